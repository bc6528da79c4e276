"""The capacity model's arithmetic (`bench/capacity.py`): the figures of the capacity page follow
from the counted operations and the cited per-node rates, and the race window inverts the race
rate it was derived from."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import capacity


def test_one_site_is_in_every_batch_and_many_sites_fill_a_batch_with_distinct_ones() -> None:
    assert capacity.sites_per_batch(1, 500) == 1
    assert capacity.sites_per_batch(30, 500) == pytest.approx(30, abs=1e-5)
    assert 480 < capacity.sites_per_batch(10_000, 500) < 500


@given(sites=st.integers(1, 100_000), batch=st.integers(1, 1000))
def test_a_batch_touches_at_least_one_site_and_no_more_than_it_has_events_or_sites(
    sites: int, batch: int
) -> None:
    touched = capacity.sites_per_batch(sites, batch)
    assert 1 - 1e-9 <= touched <= min(sites, batch) + 1e-9


def test_an_event_costs_two_row_writes_plus_its_share_of_the_batch_commits() -> None:
    few = capacity.per_event(sites=1, batch=500)
    assert few.writes == pytest.approx(2 + 2 / 500)
    assert few.reads == pytest.approx(2 / 500)
    many = capacity.per_event(sites=1_000_000, batch=500)
    assert many.writes == pytest.approx(4, abs=0.01)  # every event its own site's two commits


def test_nodes_are_the_load_over_the_cited_per_node_rates_rounded_up() -> None:
    # 14,000 events/s at one site: 28,056 writes/s and 56 reads/s.
    assert capacity.bigtable_nodes(14_000, 1, 500) == 3
    assert capacity.bigtable_nodes(14_000, 1, 500, headroom=2.0) == 5
    assert capacity.bigtable_nodes(1, 1, 500) == 1


@given(
    window=st.floats(0.001, 0.05),  # up to five commits of others per window: p stays < 0.995
    rate=st.floats(1, 100),
    workers=st.integers(2, 64),
)
def test_the_race_window_inverts_the_race_rate_it_predicts(
    window: float, rate: float, workers: int
) -> None:
    others = rate * (workers - 1) / workers
    lost = 1 - math.exp(-others * window)
    races = lost / (1 - lost)
    if races <= 0:
        return
    assert capacity.race_window_s(races, workers, rate) == pytest.approx(window, rel=1e-6)


def test_a_window_needs_two_writers_and_a_lost_race() -> None:
    with pytest.raises(ValueError, match="two writers"):
        capacity.race_window_s(0.5, 1, 10.0)
    with pytest.raises(ValueError, match="two writers"):
        capacity.race_window_s(0.0, 4, 10.0)


def test_at_the_ceiling_half_the_attempts_are_lost() -> None:
    ceiling = capacity.row_ceiling(0.02)
    assert 1 - math.exp(-ceiling * 0.02) == pytest.approx(0.5)


def test_instances_stop_where_each_row_reaches_the_ceiling() -> None:
    # one site: every batch of every instance commits its rows
    assert capacity.max_instances(40.0, 4.0, 1, 500) == 10
    # many sites: each batch touches a small share of them
    assert capacity.max_instances(40.0, 4.0, 10_000, 500) > 200


def test_a_contention_run_without_lost_races_gives_no_window() -> None:
    run = {"cells": [{"workers": 1, "lost_races": 0, "races_per_commit": 0.0}]}
    with pytest.raises(ValueError, match="no cell"):
        capacity.window_from(run)
