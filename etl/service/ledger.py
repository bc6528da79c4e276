"""Derived summaries (occupancy, hourly counts, daily peaks) kept exact under at-least-once,
concurrent delivery.

Protocol, per service:

1. a writer stores the event row (idempotent: the key holds the event id, cells carry the event
   time as timestamp), then adds a *dirty marker* `dirty:<event time>:<nonce>` to the summary row;
2. `refresh_*` reads the summary row (with its `version`), recomputes from the event rows
   starting at the latest checkpoint not after the earliest dirty time, and commits the result,
   deleting exactly the markers it read, with CheckAndMutateRow on `version` (optimistic
   concurrency);
3. a lost race re-reads and retries. A marker added during a refresh survives its commit, so the
   row it stands for is always folded by some later refresh; a redelivery only adds a marker.

Nothing is incremented in place, so no retry, redelivery or duplicate can count an event twice.
This module owns the cell format of summary rows: readers ask it (`pending_updates`,
`checkpoint_window`, `current_occupancy`, `read_hourly`, `read_daily`) rather than parse
qualifiers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from etl.service.ports import StatusRow, SummaryStore, decode_int, encode_int
from etl_core import EtlError, Event, Occupancy, hourly_counts, status_key
from etl_core.analytics import DailyPeak, HourlyCount, daily_peaks_from, hour_of
from etl_core.checkpoints import decode_state, encode_state, keep_latest, refold, resume_point
from etl_core.rowkeys import daily_key, hourly_key
from etl_core.timestamps import format_event_time

DIRTY = "dirty:"
CHECKPOINT = "ckpt:"
HOUR = "hour:"
DAY = "day:"
MAX_ATTEMPTS = 50

Cells = Mapping[str, bytes]
Step = Callable[[StatusRow, list[str]], tuple[Cells, list[str]]]
"""From a summary row and its dirty markers: the cells to put and stale ones to delete."""


class Contention(EtlError, RuntimeError):
    """Too many concurrent refreshes of one summary row; transient (redeliver and try again)."""


def marker(event_time: datetime, nonce: str) -> str:
    return f"{DIRTY}{format_event_time(event_time)}:{nonce}"


def marker_time(qualifier: str) -> datetime:
    return datetime.fromisoformat(qualifier[len(DIRTY) :].rsplit(":", 1)[0])


def pending_updates(status: StatusRow) -> int:
    """How many writes a summary row has not folded in yet (its dirty markers)."""
    return sum(q.startswith(DIRTY) for q in status.cells)


def checkpoints(status: StatusRow) -> dict[datetime, Occupancy]:
    """The fold states stored in a status row, by the hour they start."""
    return {
        datetime.fromisoformat(q[len(CHECKPOINT) :]): decode_state(v)
        for q, v in status.cells.items()
        if q.startswith(CHECKPOINT)
    }


def checkpoint_window(status: StatusRow, hours: int) -> datetime | None:
    """Start of the last `hours` hours of a service's events: its newest checkpoint is the hour of
    its latest folded event. None (read every row) when the status has no checkpoint yet."""
    newest = max(checkpoints(status), default=None)
    return None if newest is None else newest - timedelta(hours=hours - 1)


def mark(
    store: SummaryStore,
    events: Iterable[Event],
    nonce: str,
    row: Callable[[str], bytes] = status_key,
) -> None:
    """Mark each service's summary row (`row(service)`; occupancy's by default) dirty from its
    earliest event in `events`: one cell each, since a refresh refolds from there onwards."""
    earliest: dict[str, datetime] = {}
    for event in events:
        if event.service not in earliest or event.event_time < earliest[event.service]:
            earliest[event.service] = event.event_time
    store.add_markers({row(svc): [marker(t, nonce)] for svc, t in earliest.items()})


def mark_days(store: SummaryStore, events: Iterable[Event], nonce: str) -> None:
    """Daily peaks: a late event changes its day and every day after it, so, as for occupancy,
    the earliest event of each service is the one marker needed."""
    mark(store, events, nonce, daily_key)


def mark_hours(store: SummaryStore, events: Iterable[Event], nonce: str) -> None:
    """Hourly counts need every touched hour, not only the earliest."""
    hours: dict[str, set[datetime]] = {}
    for event in events:
        hours.setdefault(event.service, set()).add(hour_of(event.event_time))
    store.add_markers(
        {hourly_key(svc): [marker(h, nonce) for h in sorted(hs)] for svc, hs in hours.items()}
    )


def current_occupancy(status: StatusRow) -> Occupancy:
    cells = status.cells
    if "currentOccupancy" not in cells:
        return Occupancy()
    return Occupancy(
        value=decode_int(cells["currentOccupancy"]),
        anomalies=decode_int(cells.get("anomalies", encode_int(0))),
        events=decode_int(cells.get("events", encode_int(0))),
    )


def refresh_occupancy(store: SummaryStore, service: str, now: datetime) -> Occupancy:
    """Fold every marked event into the service's status row; returns the committed occupancy."""

    def step(status: StatusRow, dirty: list[str]) -> tuple[Cells, list[str]]:
        stored = checkpoints(status)
        start, state = resume_point(stored, (marker_time(q) for q in dirty))
        final, fresh = refold(state, store.scan_events(service, start=start))
        put, stale = checkpoint_cells(stored, start, fresh)
        put |= {
            "currentOccupancy": encode_int(final.value),
            "anomalies": encode_int(final.anomalies),
            "events": encode_int(final.events),
            "writeTime": format_event_time(now).encode(),
        }
        return put, stale

    return current_occupancy(refresh(store, status_key(service), step))


def checkpoint_cells(
    stored: Mapping[datetime, Occupancy],
    start: datetime | None,
    fresh: Mapping[datetime, Occupancy],
) -> tuple[dict[str, bytes], list[str]]:
    """After a refold from `start`: the checkpoint cells to put (those before `start` kept, the
    fresh ones, at most the newest `MAX_CHECKPOINTS`) and the stored ones to delete."""
    older = {h: s for h, s in stored.items() if start is not None and h < start}
    kept = keep_latest({**older, **fresh})
    put = {f"{CHECKPOINT}{format_event_time(h)}": encode_state(s) for h, s in kept.items()}
    stale = [f"{CHECKPOINT}{format_event_time(h)}" for h in stored if h not in kept]
    return put, stale


def dated_cells(status: StatusRow, prefix: str) -> list[tuple[datetime, str]]:
    """`(time, text)` of the cells `<prefix><time>` of a summary row, in time order."""
    return sorted(
        (datetime.fromisoformat(q[len(prefix) :]), v.decode())
        for q, v in status.cells.items()
        if q.startswith(prefix)
    )


def read_hourly(status: StatusRow) -> dict[datetime, HourlyCount]:
    """The hourly counts a summary row holds, by hour: `hour:<hour>` = `entries,exits`."""
    counts = {}
    for hour, text in dated_cells(status, HOUR):
        entries, exits = (int(x) for x in text.split(","))
        counts[hour] = HourlyCount(hour=hour, entries=entries, exits=exits)
    return counts


def refresh_hourly(store: SummaryStore, service: str) -> dict[datetime, HourlyCount]:
    """Recount the marked hours of a service from its event rows; returns all hourly counts."""

    def step(status: StatusRow, dirty: list[str]) -> tuple[Cells, list[str]]:
        del status
        hours = sorted({hour_of(marker_time(q)) for q in dirty})
        events = store.scan_events(service, start=hours[0], end=hours[-1] + timedelta(hours=1))
        counted = {c.hour: c for c in hourly_counts(events).get(service, [])}
        put: dict[str, bytes] = {}
        for hour in hours:
            count = counted.get(hour, HourlyCount(hour=hour, entries=0, exits=0))
            put[f"{HOUR}{format_event_time(hour)}"] = f"{count.entries},{count.exits}".encode()
        return put, []

    return read_hourly(refresh(store, hourly_key(service), step))


def read_daily(status: StatusRow) -> dict[datetime, DailyPeak]:
    """The daily peaks a summary row holds, by day: `day:<day>` = `value,<time first reached>`."""
    peaks = {}
    for day, text in dated_cells(status, DAY):
        level, at = text.split(",", 1)
        peaks[day] = DailyPeak(day=day, value=int(level), at=datetime.fromisoformat(at))
    return peaks


def refresh_daily(store: SummaryStore, service: str) -> dict[datetime, DailyPeak]:
    """Recompute the peaks of the marked day and every later one, resuming at the state stored
    for the start of the latest day not after the earliest marker; returns all daily peaks."""

    def step(status: StatusRow, dirty: list[str]) -> tuple[Cells, list[str]]:
        stored = checkpoints(status)
        start, state = resume_point(stored, (marker_time(q) for q in dirty))
        peaks, starts = daily_peaks_from(state, store.scan_events(service, start=start))
        put, stale = checkpoint_cells(stored, start, starts)
        for p in peaks:
            put[f"{DAY}{format_event_time(p.day)}"] = (
                f"{p.value},{format_event_time(p.at)}".encode()
            )
        return put, stale

    return read_daily(refresh(store, daily_key(service), step))


def refresh(store: SummaryStore, key: bytes, step: Step) -> StatusRow:
    """Commit `step`'s cells and drop the markers it saw, on the row's version; a lost race
    re-reads and tries again. Returns the row as committed (or as read, when nothing was dirty)."""
    for attempt in range(MAX_ATTEMPTS):
        status = store.read_status(key)
        dirty = [q for q in status.cells if q.startswith(DIRTY)]
        if not dirty:
            return status
        put, stale = step(status, dirty)
        gone = {*dirty, *stale}
        if store.commit_status(key, status.version, put, sorted(gone)):
            kept = {q: v for q, v in status.cells.items() if q not in gone}
            return StatusRow(status.version + 1, {**kept, **put})
        _backoff(attempt)
    raise Contention(f"summary row {key!r} changed under {MAX_ATTEMPTS} refreshes in a row")


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
