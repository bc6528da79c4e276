"""Analytics agree with the occupancy fold: same unique events, same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given

from etl_core import (
    Event,
    HourlyCount,
    Occupancy,
    Peak,
    ServiceSummary,
    fold,
    hour_of,
    hourly_counts,
    occupancy_series,
    peak_occupancy,
    summarize,
)
from tests.unit.core.core_strategies import NOW, event_sets

H8 = datetime(2024, 5, 6, 8, tzinfo=UTC)


def ev(minutes: int, delta: int, event_id: str, service: str = "s") -> Event:
    return Event(service, H8 + timedelta(minutes=minutes), delta, event_id)


DAY = [
    ev(5, 1, "a"),
    ev(10, 1, "b"),
    ev(70, -1, "c"),
    ev(80, 1, "d"),
    ev(90, 1, "e"),
    ev(91, -1, "f"),
]


def test_hour_of_is_the_start_of_the_utc_hour() -> None:
    assert hour_of(datetime(2024, 5, 6, 8, 59, 59, 999000, tzinfo=UTC)) == H8
    assert hour_of(datetime(2024, 5, 6, 10, 30, tzinfo=timezone(timedelta(hours=2)))) == H8


def test_hour_of_refuses_a_naive_time_rather_than_guess_the_local_zone() -> None:
    with pytest.raises(ValueError, match="aware"):
        hour_of(datetime(2024, 5, 6, 8, 30))


def test_hourly_counts_lists_entries_and_exits_of_the_hours_with_events() -> None:
    assert hourly_counts([*DAY, DAY[0]]) == {
        "s": [HourlyCount(H8, 2, 0), HourlyCount(H8 + timedelta(hours=1), 2, 2)]
    }


def test_an_exit_at_zero_still_counts_as_an_exit_in_the_hourly_counts() -> None:
    assert hourly_counts([ev(1, -1, "x")]) == {"s": [HourlyCount(H8, 0, 1)]}


def test_the_peak_is_the_first_time_the_maximum_is_reached() -> None:
    assert peak_occupancy(DAY) == {"s": Peak(3, H8 + timedelta(minutes=90))}
    assert peak_occupancy([ev(1, -1, "x")]) == {"s": Peak(0, None)}


def test_the_series_has_the_occupancy_after_each_unique_event() -> None:
    assert [v for _, v in occupancy_series(DAY)["s"]] == [1, 2, 1, 2, 3, 2]


def test_summarize_collects_occupancy_hourly_counts_and_peak() -> None:
    summary = summarize([*DAY, ev(0, 1, "z", "t")])
    assert summary["s"] == ServiceSummary(
        "s",
        Occupancy(2, 0, 6),
        tuple(hourly_counts(DAY)["s"]),
        Peak(3, H8 + timedelta(minutes=90)),
    )
    assert list(summary) == ["s", "t"]


@given(event_sets())
def test_analytics_agree_with_the_fold(events: list[Event]) -> None:
    states = fold(events)
    summaries = summarize(events)
    series = occupancy_series(events)
    assert {s: x.occupancy for s, x in summaries.items()} == states
    for service, summary in summaries.items():
        assert sum(h.entries + h.exits for h in summary.hourly) == states[service].events
        hours = [h.hour for h in summary.hourly]
        assert hours == sorted(set(hours))
        values = [v for _, v in series[service]]
        assert values[-1] == states[service].value
        assert summary.peak.value == max([0, *values])
        assert summary.peak.at is None or summary.peak.at >= NOW
