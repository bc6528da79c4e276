"""Analytics agree with the occupancy fold: same unique events, same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given

from etl_core import (
    DailyPeak,
    Event,
    HourlyCount,
    Occupancy,
    Peak,
    ServiceSummary,
    daily_peaks,
    fold,
    hour_of,
    hourly_counts,
    occupancy_series,
    peak_occupancy,
    summarize,
)
from etl_core.analytics import daily_peaks_from, day_of
from etl_core.occupancy import timelines
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


D0 = datetime(2024, 5, 6, tzinfo=UTC)


def test_a_daily_peak_is_the_highest_level_of_the_day_first_reached_at_its_event() -> None:
    day = [ev(5, 1, "a"), ev(10, 1, "b"), ev(70, -1, "c"), ev(80, 1, "d")]
    assert daily_peaks(day) == {"s": [DailyPeak(D0, 2, H8 + timedelta(minutes=10))]}


def test_the_level_carried_in_at_midnight_counts_for_the_next_day() -> None:
    late = H8 + timedelta(hours=15)  # 23:00
    events = [
        Event("s", late, 1, "a"),
        Event("s", late + timedelta(minutes=1), 1, "b"),
        Event("s", late + timedelta(hours=2), -1, "c"),  # 01:00 the next day
    ]
    next_day = D0 + timedelta(days=1)
    assert daily_peaks(events) == {
        "s": [
            DailyPeak(D0, 2, late + timedelta(minutes=1)),
            DailyPeak(next_day, 2, next_day),  # two people were still inside at midnight
        ]
    }


def test_days_without_events_have_no_peak_and_services_stay_apart() -> None:
    events = [ev(0, 1, "a"), ev(60 * 48, 1, "b"), ev(0, 1, "x", service="t")]
    peaks = daily_peaks(events)
    assert [p.day for p in peaks["s"]] == [D0, D0 + timedelta(days=2)]
    assert [p.value for p in peaks["t"]] == [1]


@given(event_sets())
def test_daily_peaks_resumed_at_any_day_start_equal_those_from_the_first_event(
    events: list[Event],
) -> None:
    for service, timeline in timelines(events).items():
        full, starts = daily_peaks_from(Occupancy(), timeline)
        assert [p.day for p in full] == sorted(starts)
        for day, state in starts.items():
            later = [e for e in timeline if e.event_time >= day]
            resumed, _ = daily_peaks_from(state, later)
            assert resumed == [p for p in full if p.day >= day], service


@given(event_sets())
def test_no_daily_peak_is_below_the_levels_reached_that_day(events: list[Event]) -> None:
    peaks = {(s, p.day): p for s, ps in daily_peaks(events).items() for p in ps}
    for service, series in occupancy_series(events).items():
        for at, value in series:
            peak = peaks[service, day_of(at)]
            assert peak.value >= value
            assert peak.at <= at or peak.value > value
