"""Derived summaries (occupancy, hourly counts) kept exact under at-least-once, concurrent delivery.

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
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from etl.bigtable import StatusRow, decode_int, encode_int, iso_ms
from etl_core import EtlError, Event, Occupancy, hourly_counts, status_key
from etl_core.analytics import HourlyCount, hour_of
from etl_core.checkpoints import decode_state, encode_state, keep_latest, refold, resume_point
from etl_core.rowkeys import hourly_key

DIRTY = "dirty:"
CHECKPOINT = "ckpt:"
HOUR = "hour:"
MAX_ATTEMPTS = 50


class Contention(EtlError, RuntimeError):
    """Too many concurrent refreshes of one summary row; transient (redeliver and try again)."""


class SummaryStore(Protocol):
    """What the ledger needs from the table (the Bigtable adapter, or a fake in unit tests)."""

    def add_markers(self, markers: Mapping[bytes, Sequence[str]]) -> None: ...
    def read_status(self, key: bytes) -> StatusRow: ...
    def commit_status(
        self, key: bytes, expected_version: int, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool: ...
    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]: ...


def marker(event_time: datetime, nonce: str) -> str:
    return f"{DIRTY}{iso_ms(event_time)}:{nonce}"


def marker_time(qualifier: str) -> datetime:
    return datetime.fromisoformat(qualifier[len(DIRTY) :].rsplit(":", 1)[0])


def mark(store: SummaryStore, events: Iterable[Event], nonce: str) -> None:
    """Mark each service's summary dirty from its earliest event in `events` (one cell each)."""
    earliest: dict[str, datetime] = {}
    for event in events:
        if event.service not in earliest or event.event_time < earliest[event.service]:
            earliest[event.service] = event.event_time
    store.add_markers({status_key(svc): [marker(t, nonce)] for svc, t in earliest.items()})


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
    key = status_key(service)
    for attempt in range(MAX_ATTEMPTS):
        status = store.read_status(key)
        dirty = [q for q in status.cells if q.startswith(DIRTY)]
        if not dirty:
            return current_occupancy(status)
        stored = {
            datetime.fromisoformat(q[len(CHECKPOINT) :]): decode_state(v)
            for q, v in status.cells.items()
            if q.startswith(CHECKPOINT)
        }
        start, state = resume_point(stored, (marker_time(q) for q in dirty))
        final, fresh = refold(state, store.scan_events(service, start=start))
        older = {h: s for h, s in stored.items() if start is not None and h < start}
        kept = keep_latest({**older, **fresh})
        put = {
            "currentOccupancy": encode_int(final.value),
            "anomalies": encode_int(final.anomalies),
            "events": encode_int(final.events),
            "writeTime": iso_ms(now).encode(),
            **{f"{CHECKPOINT}{iso_ms(h)}": encode_state(s) for h, s in kept.items()},
        }
        stale = [f"{CHECKPOINT}{iso_ms(h)}" for h in stored if h not in kept]
        if store.commit_status(key, status.version, put, [*dirty, *stale]):
            return final
        _backoff(attempt)
    raise Contention(f"status of {service!r} changed under {MAX_ATTEMPTS} refreshes in a row")


def read_hourly(status: StatusRow) -> dict[datetime, HourlyCount]:
    counts = {}
    for qualifier, value in status.cells.items():
        if qualifier.startswith(HOUR):
            hour = datetime.fromisoformat(qualifier[len(HOUR) :])
            entries, exits = (int(x) for x in value.decode().split(","))
            counts[hour] = HourlyCount(hour=hour, entries=entries, exits=exits)
    return dict(sorted(counts.items()))


def refresh_hourly(store: SummaryStore, service: str) -> dict[datetime, HourlyCount]:
    """Recount the marked hours of a service from its event rows; returns all hourly counts."""
    key = hourly_key(service)
    for attempt in range(MAX_ATTEMPTS):
        status = store.read_status(key)
        dirty = [q for q in status.cells if q.startswith(DIRTY)]
        if not dirty:
            return read_hourly(status)
        hours = sorted({hour_of(marker_time(q)) for q in dirty})
        events = store.scan_events(service, start=hours[0], end=hours[-1] + timedelta(hours=1))
        counted = {c.hour: c for c in hourly_counts(events).get(service, [])}
        put: dict[str, bytes] = {}
        for hour in hours:
            count = counted.get(hour, HourlyCount(hour=hour, entries=0, exits=0))
            put[f"{HOUR}{iso_ms(hour)}"] = f"{count.entries},{count.exits}".encode()
        if store.commit_status(key, status.version, put, dirty):
            return read_hourly(store.read_status(key))
        _backoff(attempt)
    raise Contention(
        f"hourly counts of {service!r} changed under {MAX_ATTEMPTS} refreshes in a row"
    )


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
