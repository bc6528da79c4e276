"""Occupancy is a fold of unique events: duplicates and arrival order cannot change it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given

from etl_core import Event, Occupancy, fold, sort_key
from etl_core.occupancy import timelines
from tests.unit.core.core_strategies import NOW, event_sets


def ev(second: int, delta: int, event_id: str, service: str = "s") -> Event:
    return Event(service, NOW + timedelta(seconds=second), delta, event_id)


def test_entries_add_and_exits_subtract() -> None:
    state = Occupancy().apply(1).apply(1).apply(-1)
    assert state == Occupancy(value=1, anomalies=0, events=3)


def test_an_exit_at_zero_is_an_anomaly_and_is_not_applied() -> None:
    assert Occupancy().apply(-1) == Occupancy(value=0, anomalies=1, events=1)


def test_apply_accepts_only_one_or_minus_one() -> None:
    with pytest.raises(ValueError, match="delta"):
        Occupancy().apply(2)


def test_fold_orders_by_event_time_not_arrival() -> None:
    exit_first_in_arrival = [ev(2, -1, "b"), ev(1, 1, "a")]
    assert fold(exit_first_in_arrival) == {"s": Occupancy(0, 0, 2)}


def test_fold_breaks_time_ties_by_event_id() -> None:
    same_time = [ev(1, 1, "b"), ev(1, -1, "a")]
    assert fold(same_time) == {"s": Occupancy(1, 1, 2)}
    assert sort_key(same_time[0]) == (NOW + timedelta(seconds=1), "b")


def test_the_first_event_seen_with_an_id_wins() -> None:
    assert fold([ev(1, 1, "a"), ev(2, -1, "a")]) == {"s": Occupancy(1, 0, 1)}


def test_services_are_folded_separately_and_listed_in_name_order() -> None:
    events = [ev(1, 1, "x", "b"), ev(1, 1, "x", "a"), ev(2, -1, "y", "a")]
    assert fold(events) == {"a": Occupancy(0, 0, 2), "b": Occupancy(1, 0, 1)}
    assert list(fold(events)) == ["a", "b"]
    assert [e.event_id for e in timelines(events)["a"]] == ["x", "y"]


@given(event_sets())
def test_duplicates_change_nothing(events: list[Event]) -> None:
    assert fold(events + events) == fold(events)


@given(event_sets())
def test_occupancy_is_never_negative_and_is_entries_minus_applied_exits(
    events: list[Event],
) -> None:
    for service, state in fold(events).items():
        unique = {e.event_id: e.delta for e in reversed(events) if e.service == service}
        entries = sum(1 for d in unique.values() if d > 0)
        assert state.value >= 0
        assert state.events == len(unique)
        assert state.value == entries - (len(unique) - entries - state.anomalies)
