"""The contention bench's own arithmetic: races per commit, rates per summary row, and how a
paced run cuts the events into publish calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.contention import Tally, chunks, site_names
from etl_core import Event

START = datetime(2026, 12, 1, tzinfo=UTC)


def tally(**changes: object) -> Tally:
    figures: dict[str, object] = {
        "workers": 2,
        "sites": 3,
        "events": 600,
        "seconds": 2.0,
        "commits": 120,
        "lost_races": 30,
        "exact": True,
    }
    return Tally(**{**figures, **changes})  # type: ignore[arg-type]


def test_races_per_commit_is_lost_races_over_winning_commits() -> None:
    assert tally().races_per_commit == 0.25


def test_a_run_that_committed_nothing_lost_no_race_per_commit() -> None:
    assert tally(commits=0, lost_races=0).races_per_commit == 0.0


def test_commit_rates_are_per_second_and_per_summary_row_of_each_site() -> None:
    t = tally()
    assert t.commits_per_s == 60.0
    assert t.commits_per_row_s == 10.0  # 60/s over 3 sites x (occupancy, hourly counts)
    assert t.events_per_s == 300.0


def test_figures_hold_the_derived_rates_beside_the_counts() -> None:
    figures = tally().figures()
    assert figures["races_per_commit"] == 0.25
    assert figures["commits"] == 120
    assert figures["exact"] is True


def events(n: int) -> list[Event]:
    return [Event("site-000", START + timedelta(seconds=i), 1, f"e{i}") for i in range(n)]


@given(n=st.integers(0, 300), rate=st.floats(1, 5000))
def test_paced_chunks_hold_every_event_once_in_order_and_no_more_than_a_tick_s_worth(
    n: int, rate: float
) -> None:
    sent = events(n)
    parts = chunks(sent, rate, tick=0.02)
    assert [e for part in parts for e in part] == sent
    assert all(0 < len(part) <= max(1, -(-rate * 0.02 // 1)) for part in parts)


def test_without_a_rate_everything_goes_in_one_publish_call() -> None:
    assert chunks(events(50), 0) == [events(50)]
    assert chunks([], 0) == []


def test_sites_are_named_in_order_and_at_least_one_is_needed() -> None:
    assert site_names(3) == ("site-000", "site-001", "site-002")
    with pytest.raises(ValueError, match="at least one site"):
        site_names(0)
