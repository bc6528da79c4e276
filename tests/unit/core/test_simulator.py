"""The simulator: deterministic, realistic in shape, and its ground truth is the fold."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_core import (
    DEFAULT_SERVICES,
    Event,
    InvalidSimulation,
    fold,
    occupancy_series,
    pacing,
    simulate,
)

START = datetime(2024, 5, 6, tzinfo=UTC)


def test_the_same_seed_gives_the_same_events_and_another_seed_others() -> None:
    first = simulate(seed=3, start=START, limit=300)
    assert simulate(seed=3, start=START, limit=300) == first
    assert simulate(seed=4, start=START, limit=300).events != first.events


def test_it_produces_limit_events_strictly_ordered_in_time_from_start() -> None:
    sim = simulate(seed=1, start=START + timedelta(microseconds=1500), limit=500)
    times = [e.event_time for e in sim.events]
    assert len(times) == 500
    assert times[0] >= START + timedelta(microseconds=1500)
    assert all(a < b for a, b in itertools.pairwise(times))
    assert len({e.event_id for e in sim.events}) == 500


def test_every_requested_service_has_a_ground_truth_even_without_events() -> None:
    assert simulate(seed=1, start=START, limit=0).ground_truth == dict.fromkeys(DEFAULT_SERVICES, 0)


def test_arrivals_cluster_in_the_morning_and_departures_in_the_evening() -> None:
    sim = simulate(seed=2, start=START, limit=3000)
    entries = Counter(e.event_time.hour for e in sim.events if e.delta > 0)
    exits = Counter(e.event_time.hour for e in sim.events if e.delta < 0)
    morning, evening = range(7, 10), range(16, 19)
    assert sum(entries[h] for h in morning) > 4 * sum(exits[h] for h in morning)
    assert sum(exits[h] for h in evening) > 4 * sum(entries[h] for h in evening)
    assert sum(entries[h] + exits[h] for h in range(11, 15)) > 0
    assert (sim.events[-1].event_time - START).days >= 2


def test_start_may_be_in_any_timezone() -> None:
    madrid = START.astimezone(timezone(timedelta(hours=2)))
    assert simulate(seed=5, start=madrid, limit=50) == simulate(seed=5, start=START, limit=50)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": -1},
        {"limit": 1.5},
        {"capacity": 0},
        {"capacity": True},
        {"start": datetime(2024, 5, 6)},
        {"services": ()},
        {"services": "acceso"},
        {"services": ("a", "a")},
        {"services": ("ok", "bad\n")},
    ],
)
def test_invalid_arguments_raise_invalid_simulation(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"seed": 1, "start": START, "limit": 10, **kwargs}
    with pytest.raises(InvalidSimulation):
        simulate(**arguments)  # type: ignore[arg-type]
    assert issubclass(InvalidSimulation, ValueError)


@settings(deadline=None, max_examples=30)
@given(
    st.integers(0, 2**64),
    st.integers(0, 400),
    st.integers(1, 8),
    st.lists(st.sampled_from(["a", "b#", "c\\", "norte"]), min_size=1, max_size=4, unique=True),
)
def test_ground_truth_is_the_fold_and_stays_within_zero_and_capacity(
    seed: int, limit: int, capacity: int, services: list[str]
) -> None:
    sim = simulate(seed=seed, services=services, start=START, limit=limit, capacity=capacity)
    states = fold(sim.events)
    assert sim.ground_truth == {s: states[s].value if s in states else 0 for s in services}
    assert all(state.anomalies == 0 for state in states.values())
    for series in occupancy_series(sim.events).values():
        assert all(0 <= value <= capacity for _, value in series)


def test_pacing_scales_event_offsets_by_the_speed_factor() -> None:
    sim = simulate(seed=1, start=START, limit=200)
    offsets = pacing(sim.events, 60)
    span = (sim.events[-1].event_time - sim.events[0].event_time).total_seconds()
    assert offsets[0] == 0
    assert offsets[-1] == pytest.approx(span / 60)
    assert offsets == sorted(offsets)
    assert pacing((), 1) == []


def test_pacing_never_goes_back_in_time_for_unordered_events() -> None:
    late, early = (Event("s", START + timedelta(seconds=s), 1, str(s)) for s in (10, 5))
    assert pacing([late, early], 2) == [0.0, 0.0]
    assert pacing([early, late], 2) == [0.0, 2.5]


@pytest.mark.parametrize("speed", [0, -1, math.nan, math.inf, "60"])
def test_pacing_needs_a_positive_finite_speed_factor(speed: object) -> None:
    with pytest.raises(InvalidSimulation):
        pacing([], speed)  # type: ignore[arg-type]
