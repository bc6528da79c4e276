"""Derived summaries (occupancy, hourly counts, daily peaks) kept exact under at-least-once,
concurrent delivery, without reading event rows back.

Each summary has a row per service (`Summary.key`) holding an `etl_core.hour_ledger.HourLedger`
(the readings of the open hours, a fold state per closed hour) beside the cells it shows
(`currentOccupancy`, `hour:<hour>`, `day:<day>`). Per batch, after the event rows are written:

1. read the summary rows of every service of the batch (one ReadRows), except the rows this
   process committed last (below);
2. merge the batch into each ledger in memory: a redelivery or a duplicate is already there and
   changes nothing; an event later than the ledger's horizon is placed by rebuilding its hours
   from the event rows (the only read of event rows, and the event rows stay the truth);
3. commit the touched cells with one CheckAndMutateRow on the row's `version`; a lost race
   re-reads that row and merges again.

A process keeps the ledger it last committed to each row (`LedgerCache`), with the row's
`version` and the random `stamp` the same commit wrote. A batch builds on that ledger without
reading the row at all, and commits on the stamp instead of the version: the CheckAndMutateRow
applies only while the row's stamp is still the one this process wrote, i.e. no other writer
committed since and the row was not deleted and made again. So a batch reads nothing of its
summary row and writes only the hours it touched, whatever the history the row keeps, in two
RPCs fewer per batch than a read first. A lost check (another writer, a reset) reads the whole
row and builds again, as without a cache.

Nothing is incremented in place, so no retry, redelivery or duplicate counts an event twice, and
a commit is whole or absent, so a crash at any point leaves nothing half done. This module owns
the cell format of summary rows: readers ask it (`current_occupancy`, `read_hourly`,
`read_daily`, `read_hour_ends`) rather than parse qualifiers.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from etl.service.ports import Expected, StatusRow, SummaryStore, decode_int, encode_int
from etl_core import EtlError, Event, Occupancy, status_key
from etl_core.analytics import DailyPeak, HourlyCount
from etl_core.hour_cells import CorruptLedger, changed_cells, decode, encode, row_write
from etl_core.hour_ledger import (
    HORIZON_HOURS,
    MAX_CLOSED_HOURS,
    OPEN_READINGS,
    Change,
    HourLedger,
    Late,
)
from etl_core.rowkeys import daily_key, hourly_key
from etl_core.timestamps import format_event_time

HOUR = "hour:"
DAY = "day:"
STAMP = "stamp"
"""A random value each commit writes beside `version`: a cached ledger is current only while
the row holds the version and stamp it was committed with."""
MAX_ATTEMPTS = 50
CACHED_ROWS = 1024

Cells = Mapping[str, bytes]


class Contention(EtlError, RuntimeError):
    """Too many concurrent commits to one summary row; transient (redeliver and try again)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much history a ledger keeps open and closed (see `etl_core.hour_ledger`)."""

    horizon: int = HORIZON_HOURS
    max_closed: int = MAX_CLOSED_HOURS
    budget: int = OPEN_READINGS

    def empty(self) -> HourLedger:
        return HourLedger(horizon=self.horizon, max_closed=self.max_closed, budget=self.budget)

    def read(self, cells: Cells) -> HourLedger:
        """The ledger a summary row holds (CorruptLedger if a cell does not decode)."""
        return decode(cells, horizon=self.horizon, max_closed=self.max_closed, budget=self.budget)


@dataclass(frozen=True, slots=True)
class Summary:
    """One kind of summary: which row of a service holds it, and the cells it shows."""

    name: str
    key: Callable[[str], bytes]
    shown: Callable[[HourLedger, Change, datetime], dict[str, bytes]]
    peaks: bool = False
    """Whether `shown` needs the daily peaks (they walk every kept hour; only `DAILY` does)."""


@dataclass(frozen=True, slots=True)
class Committed:
    """A service's summary row after a batch: its occupancy, the event rows read, and how its
    CheckAndMutates went (`lost_races`: version checks lost to another writer; `wrote`: one
    won, False when the row already held every event)."""

    occupancy: Occupancy
    rows_read: int
    lost_races: int = 0
    wrote: bool = False
    cells_read: int = 0
    """Bytes of the summary row's cells (qualifiers and values) the first read of it returned."""


Version = tuple[int, bytes]
"""A summary row's `version` and `stamp`."""


class LedgerCache:
    """The ledgers this process last committed, by row key, with their `Version`; thread-safe.

    `take` hands a ledger to one caller at most (it is mutated by the merge); whether the row
    still holds it is for the commit's stamp check to say. `put` after a commit. Least recently
    put rows go first."""

    def __init__(self, rows: int = CACHED_ROWS) -> None:
        self._rows = rows
        self._lock = threading.Lock()
        self._kept: OrderedDict[bytes, tuple[Version, HourLedger]] = OrderedDict()

    def take(self, key: bytes) -> tuple[Version, HourLedger] | None:
        with self._lock:
            return self._kept.pop(key, None)

    def put(self, key: bytes, version: Version, ledger: HourLedger) -> None:
        """Keep `ledger` as the row's at `version`; not kept without a stamp (a row no commit of
        this code wrote: nothing to check a commit against)."""
        if not version[1]:
            return
        ledger.touched = set()  # the row now holds every cell of the ledger
        with self._lock:
            self._kept.pop(key, None)
            self._kept[key] = (version, ledger)
            while len(self._kept) > self._rows:
                self._kept.popitem(last=False)


def _occupancy_cells(ledger: HourLedger, change: Change, now: datetime) -> dict[str, bytes]:
    del change
    state = ledger.occupancy()
    return {
        "currentOccupancy": encode_int(state.value),
        "anomalies": encode_int(state.anomalies),
        "events": encode_int(state.events),
        "writeTime": format_event_time(now).encode(),
    }


def _hourly_cells(ledger: HourLedger, change: Change, now: datetime) -> dict[str, bytes]:
    del ledger, now
    return {
        f"{HOUR}{format_event_time(h)}": f"{c.entries},{c.exits}".encode()
        for h, c in change.hourly.items()
    }


def _daily_cells(ledger: HourLedger, change: Change, now: datetime) -> dict[str, bytes]:
    del ledger, now
    return {
        f"{DAY}{format_event_time(d)}": f"{p.value},{format_event_time(p.at)}".encode()
        for d, p in change.peaks.items()
    }


OCCUPANCY = Summary("occupancy", status_key, _occupancy_cells)
HOURLY = Summary("hourly", hourly_key, _hourly_cells)
DAILY = Summary("daily", daily_key, _daily_cells, peaks=True)
SUMMARIES = {s.name: s for s in (OCCUPANCY, HOURLY, DAILY)}
"""Every summary by name, as `etl.pipeline.Function.summary` names it."""


def update(
    store: SummaryStore,
    summary: Summary,
    events: Sequence[Event],
    now: datetime,
    limits: Limits = Limits(),
    cache: LedgerCache | None = None,
) -> dict[str, Committed]:
    """Merge `events` (already stored as rows) into `summary` for each of their services; with
    a `cache`, rows this process committed last are not read whole (see the module docstring)."""
    by_service: dict[str, list[Event]] = {}
    for event in events:
        by_service.setdefault(event.service, []).append(event)
    keys = {service: summary.key(service) for service in sorted(by_service)}
    rows, cached = _read(store, list(keys.values()), cache)
    return {
        service: replace(
            _settle(
                store,
                summary,
                service,
                rows[key],
                partial(
                    _merged,
                    store,
                    service,
                    events=by_service[service],
                    limits=limits,
                    peaks=summary.peaks,
                ),
                now,
                "commits",
                cache=cache,
                cached=cached.get(key),
            )[1],
            cells_read=0 if key in cached else _size(rows[key]),
        )
        for service, key in keys.items()
    }


def _size(row: StatusRow) -> int:
    """The bytes a read of the row returned: its cells, and its version."""
    cells = sum(len(q) + len(v) for q, v in row.cells.items())
    return len("version") + len(str(row.version)) + cells


def _read(
    store: SummaryStore, keys: list[bytes], cache: LedgerCache | None
) -> tuple[dict[bytes, StatusRow], dict[bytes, HourLedger]]:
    """The rows to build on and the cached ledgers to build on instead: a row this process
    committed last is not read (it stands as the version and stamp of that commit, which the
    commit then checks); the others are read whole, in one ReadRows."""
    taken = {k: kept for k in keys if cache is not None and (kept := cache.take(k)) is not None}
    missing = [k for k in keys if k not in taken]
    rows = store.read_statuses(missing) if missing else {}
    for key, ((version, stamp), _) in taken.items():
        rows[key] = StatusRow(version=version, cells={STAMP: stamp})
    return rows, {key: ledger for key, (_, ledger) in taken.items()}


Built = tuple[HourLedger, Change, int]
"""A summary row's new ledger, what changed, and how many event rows building it read."""


def _settle(
    store: SummaryStore,
    summary: Summary,
    service: str,
    row: StatusRow | None,
    build: Callable[[StatusRow, HourLedger | None], Built],
    now: datetime,
    what: str,
    *,
    always: bool = False,
    cache: LedgerCache | None = None,
    cached: HourLedger | None = None,
) -> tuple[HourLedger, Committed]:
    """Build the row's new ledger and commit it on the row's version, or, when built on `cached`
    (the ledger this process last committed to the row, unread), on that commit's stamp; a lost
    check backs off, reads the row whole and builds again.
    Nothing is written when the ledger's cells are unchanged, unless `always`. Returns the
    ledger and what was committed (event rows read: over every attempt, since a lost race may
    read late events' rows again); with a `cache`, the ledger is cached, so only the returned
    `Committed` is the caller's to read."""
    key = summary.key(service)
    rows_read = 0
    for attempt in range(MAX_ATTEMPTS):
        if row is None:
            row, cached = store.read_status(key), None
        ledger, change, read = build(row, cached)
        rows_read += read
        write = changed_cells(ledger) or row_write(row.cells, encode(ledger))
        version = (row.version, row.cells.get(STAMP, b""))
        if not (write.put or write.delete or always):  # every event was already in
            return _committed(ledger, rows_read, cache, key, version, attempt)
        stamp = os.urandom(8).hex().encode()
        put = {**write.put, **summary.shown(ledger, change, now), STAMP: stamp}
        on_stamp = version[1] if cached is not None else None  # the cached commit's, unread
        if store.commit_status(key, Expected(row.version, on_stamp), put, write.delete):
            return _committed(
                ledger, rows_read, cache, key, (row.version + 1, stamp), attempt, wrote=True
            )
        _backoff(attempt)
        row = None
    raise Contention(f"{summary.name} of {service!r} changed under {MAX_ATTEMPTS} {what} in a row")


def _committed(
    ledger: HourLedger,
    rows_read: int,
    cache: LedgerCache | None,
    key: bytes,
    version: Version,
    lost_races: int,
    *,
    wrote: bool = False,
) -> tuple[HourLedger, Committed]:
    # the occupancy is read before another thread may take the cached ledger
    done = Committed(ledger.occupancy(), rows_read, lost_races=lost_races, wrote=wrote)
    if cache is not None:
        cache.put(key, version, ledger)
    return ledger, done


def _merged(
    store: SummaryStore,
    service: str,
    row: StatusRow,
    cached: HourLedger | None,
    *,
    events: Sequence[Event],
    limits: Limits,
    peaks: bool = False,
) -> Built:
    """The row's ledger (`cached`, or decoded from the row) with `events` in it; reads event
    rows only for late events (or a ledger that does not decode, which is rebuilt from every
    row). Daily peaks are part of the `Change` only with `peaks`."""
    try:
        ledger = cached if cached is not None else limits.read(row.cells)
        late = ledger.late(events)
    except CorruptLedger:
        ledger = limits.empty()
        late = Late(None)
    if late is None:
        return ledger, ledger.merge(events, peaks=peaks), 0
    rows = list(store.scan_events(service, start=late.since))
    return ledger, ledger.rebuild(late.since, rows, peaks=peaks), len(rows)


def rebuild(
    store: SummaryStore, summary: Summary, service: str, now: datetime, limits: Limits = Limits()
) -> HourLedger:
    """Replace the service's summary with the fold of all its event rows (`etl rebuild`)."""

    def rebuilt(row: StatusRow, cached: HourLedger | None) -> Built:
        del row, cached  # rebuilt from the event rows alone, whatever the row holds
        ledger = limits.empty()
        return ledger, ledger.rebuild(None, store.scan_events(service)), 0

    ledger, _ = _settle(store, summary, service, None, rebuilt, now, "rebuilds", always=True)
    return ledger


# --- reading the cells ---


def current_occupancy(status: StatusRow) -> Occupancy:
    cells = status.cells
    if "currentOccupancy" not in cells:
        return Occupancy()
    return Occupancy(
        value=decode_int(cells["currentOccupancy"]),
        anomalies=decode_int(cells.get("anomalies", encode_int(0))),
        events=decode_int(cells.get("events", encode_int(0))),
    )


def written_at(status: StatusRow) -> str | None:
    """When the occupancy was last committed (ISO, as stored), or None if never."""
    cell = status.cells.get("writeTime")
    return cell.decode() if cell else None


def read_hourly(status: StatusRow) -> dict[datetime, HourlyCount]:
    counts = {}
    for qualifier, value in status.cells.items():
        if qualifier.startswith(HOUR):
            hour = datetime.fromisoformat(qualifier[len(HOUR) :])
            entries, exits = (int(x) for x in value.decode().split(","))
            counts[hour] = HourlyCount(hour=hour, entries=entries, exits=exits)
    return dict(sorted(counts.items()))


def read_daily(status: StatusRow) -> dict[datetime, DailyPeak]:
    """The daily peaks a summary row holds, by day: `day:<day>` = `value,<time first reached>`."""
    peaks = {}
    for qualifier, value in status.cells.items():
        if qualifier.startswith(DAY):
            day = datetime.fromisoformat(qualifier[len(DAY) :])
            level, at = value.decode().split(",", 1)
            peaks[day] = DailyPeak(day=day, value=int(level), at=datetime.fromisoformat(at))
    return dict(sorted(peaks.items()))


def read_hour_ends(status: StatusRow, limits: Limits = Limits()) -> dict[datetime, Occupancy]:
    """The occupancy at the end of every hour with events the summary row keeps (about a week),
    by hour, oldest first: the last one is the current occupancy. {} for a row without a ledger
    or with one that does not decode."""
    try:
        kept = limits.read(status.cells)
    except CorruptLedger:
        return {}
    hours = list(kept.hours())
    if not hours:
        return {}
    ends = [start for _, start, _ in hours[1:]] + [kept.occupancy()]
    return {counted.hour: end for (counted, _, _), end in zip(hours, ends, strict=True)}


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
