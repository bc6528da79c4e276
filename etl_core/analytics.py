"""The "real-time analytics" of the original design, as pure functions of a set of events.

Every function sees the same unique events in the same order as `occupancy.fold` (duplicates by
event id count once), so its results agree with the stored occupancy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from etl_core.events import Event
from etl_core.occupancy import Occupancy, fold_timeline, sort_key, timelines


@dataclass(frozen=True, slots=True)
class HourlyCount:
    """Entries and exits a service's sensor reported in the UTC hour starting at `hour`.

    Raw readings: an exit reported at zero occupancy (an anomaly) still counts as an exit.
    """

    hour: datetime
    entries: int
    exits: int


@dataclass(frozen=True, slots=True)
class Peak:
    """Highest occupancy and the first time it was reached (`None` if it never rose above 0)."""

    value: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class DailyPeak:
    """Highest occupancy of a service during the UTC day starting at `day`, and when it was first
    reached. The level carried in from the day before counts, reached at `day` itself."""

    day: datetime
    value: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """Everything the analytics know about one service."""

    service: str
    occupancy: Occupancy
    hourly: tuple[HourlyCount, ...]
    peak: Peak


def hour_of(t: datetime) -> datetime:
    """The start of the UTC hour containing `t`; ValueError for a naive `t` (no local time here)."""
    if t.tzinfo is not UTC:
        if t.utcoffset() is None:
            raise ValueError(f"hour_of needs an aware datetime: {t!r}")
        t = t.astimezone(UTC)
    return t.replace(minute=0, second=0, microsecond=0)


def day_of(t: datetime) -> datetime:
    """The start (midnight) of the UTC day containing `t`."""
    return hour_of(t).replace(hour=0)


def daily_peaks_from(
    start: Occupancy, timeline: Iterable[Event]
) -> tuple[list[DailyPeak], dict[datetime, Occupancy]]:
    """Fold one service's unique events (all on or after the day they resume at) from `start`:
    the peak of every day that has events, and the state at the start of each such day (the
    checkpoints to resume at later). Events are sorted here, in event-time order."""
    state = start
    peaks: dict[datetime, DailyPeak] = {}
    starts: dict[datetime, Occupancy] = {}
    for event in sorted(timeline, key=sort_key):
        day = day_of(event.event_time)
        if day not in starts:
            starts[day] = state
            peaks[day] = DailyPeak(day, state.value, day)
        state = state.apply(event.delta)
        if state.value > peaks[day].value:
            peaks[day] = DailyPeak(day, state.value, event.event_time)
    return list(peaks.values()), starts


def daily_peaks(events: Iterable[Event]) -> dict[str, list[DailyPeak]]:
    """Per service, the peak occupancy of every day that has events, in day order."""
    return {s: daily_peaks_from(Occupancy(), t)[0] for s, t in timelines(events).items()}


def _hourly(timeline: list[Event]) -> list[HourlyCount]:
    counts: dict[datetime, list[int]] = {}
    for event in timeline:
        bucket = counts.setdefault(hour_of(event.event_time), [0, 0])
        bucket[event.delta < 0] += 1
    return [HourlyCount(h, entries, exits) for h, (entries, exits) in counts.items()]


def _series(timeline: list[Event]) -> list[tuple[datetime, int]]:
    state = Occupancy()
    series = []
    for event in timeline:
        state = state.apply(event.delta)
        series.append((event.event_time, state.value))
    return series


def _peak(series: list[tuple[datetime, int]]) -> Peak:
    best = Peak(0, None)
    for at, value in series:
        if value > best.value:
            best = Peak(value, at)
    return best


def hourly_counts(events: Iterable[Event]) -> dict[str, list[HourlyCount]]:
    """Per service, the hours that have events, in time order."""
    return {s: _hourly(t) for s, t in timelines(events).items()}


def occupancy_series(events: Iterable[Event]) -> dict[str, list[tuple[datetime, int]]]:
    """Per service, `(event_time, occupancy after that event)` for each unique event."""
    return {s: _series(t) for s, t in timelines(events).items()}


def peak_occupancy(events: Iterable[Event]) -> dict[str, Peak]:
    """Per service, the maximum occupancy and when it was first reached."""
    return {s: _peak(_series(t)) for s, t in timelines(events).items()}


def summarize(events: Iterable[Event]) -> dict[str, ServiceSummary]:
    """Per service: final occupancy, hourly counts and peak, from one pass over the timelines."""
    return {
        s: ServiceSummary(s, fold_timeline(t), tuple(_hourly(t)), _peak(_series(t)))
        for s, t in timelines(events).items()
    }
