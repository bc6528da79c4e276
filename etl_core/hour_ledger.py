"""A site's summaries kept per hour, so that a batch updates them without reading event rows back.

The state of one service (`HourLedger`) is a chain of hours in time order:

- **open hours**, the newest: every hour within `horizon` hours of the newest hour that has
  events, and older ones too while the open hours hold at most `budget` readings (a sparse site
  keeps days open, a busy one its last hours). Each keeps its unique events as `Reading`s in fold
  order, so a redelivery changes nothing and a late event is inserted in its place. Their
  summaries are composed in a `SummaryTree`: a batch recomposes the paths of the hours it
  touched (O(k log hours)), whatever the arrival order, and `touched` says which cells to write.
- **closed hours**, older: each keeps only what the summaries need (`ClosedHour`: the fold state
  before and after it, its entries, exits and peak). Old hours are dropped by whole days, never
  a day that still has open hours, so at most `max(max_closed, 23)` are kept.

`merge` adds a batch in memory and says what changed; the caller commits the touched cells in one
conditional write. An event in or before a closed hour cannot be placed without its neighbours:
`late` names the hour from which the event rows must be read again, and `rebuild` makes the
ledger from those rows (the event rows stay the source of truth).

Readings are unique by `(time, event id)`, as event rows are: a publisher duplicate carries the
same `eventId` and time, so it is one reading, exactly as it is one row.

Size bound (tested): a service with at most N events in any hour keeps at most
`max(budget, (horizon + 1) * N)` readings and `max(max_closed, 23)` closed hours.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from etl_core.analytics import DailyPeak, HourlyCount, Peak, day_of, hour_of
from etl_core.events import Event
from etl_core.hour_summary import EMPTY, HourSummary, Reading, SummaryTree
from etl_core.occupancy import Occupancy
from etl_core.timestamps import EPOCH

HOUR = timedelta(hours=1)
HORIZON_HOURS = 2
"""Hours behind the newest one that stay open: lateness up to this costs no reads."""
OPEN_READINGS = 20_000
"""Readings the open hours may hold before hours older than the horizon close (~1 MB a row)."""
MAX_CLOSED_HOURS = 24 * 7
"""Closed hours kept per service; an event older than all of them rebuilds from the first row."""


@dataclass(frozen=True, slots=True)
class ClosedHour:
    """What the summaries need of an hour that takes no more events without a rebuild."""

    start: Occupancy
    end: Occupancy
    entries: int
    exits: int
    peak: Peak


@dataclass(frozen=True, slots=True)
class Late:
    """The batch reaches into closed history: rebuild from the event rows at or after `since`
    (None: from the service's first row)."""

    since: datetime | None


@dataclass(frozen=True, slots=True)
class Change:
    """What a merge or rebuild changed, as the summaries to write: the counts of each hour that
    received events, and the peak of every day from the earliest hour whose fold changed."""

    hourly: dict[datetime, HourlyCount] = field(default_factory=dict)
    peaks: dict[datetime, DailyPeak] = field(default_factory=dict)


@dataclass(slots=True)
class HourLedger:
    """The per-hour state of one service; see the module docstring."""

    closed: dict[datetime, ClosedHour] = field(default_factory=dict)
    open: dict[datetime, list[Reading]] = field(default_factory=dict)
    origin: Occupancy = field(default_factory=Occupancy)
    """The fold state before the first hour kept (not zero once old hours were dropped)."""
    floor: datetime | None = None
    """The start of the first day kept, once old days were dropped (None: nothing dropped)."""
    horizon: int = HORIZON_HOURS
    budget: int = OPEN_READINGS
    max_closed: int = MAX_CLOSED_HOURS
    sums: dict[datetime, HourSummary] = field(default_factory=dict, compare=False, repr=False)
    """A summary per open hour, made when first needed and dropped when the hour's readings
    change (kept only while it still counts as many readings as the hour holds)."""
    cells: dict[datetime, bytes] = field(default_factory=dict, compare=False, repr=False)
    """The cell each open hour was last decoded from or encoded to (`etl_core.hour_cells`),
    holding its readings but those in `added`: a changed hour's cell is that cell with the
    added readings appended, O(readings added), whatever the hour already holds."""
    added: dict[datetime, list[Reading]] = field(default_factory=dict, compare=False, repr=False)
    """Readings merged into an open hour since its cell in `cells` was made."""
    tree: SummaryTree = field(default_factory=SummaryTree, compare=False, repr=False)
    """The open hours' summaries composed (`occupancy` in O(log hours) per changed hour)."""
    stale: set[datetime] | None = field(default=None, compare=False, repr=False)
    """Open hours whose readings changed since the tree last saw them (None: build it whole)."""
    touched: set[datetime] | None = field(default=None, compare=False, repr=False)
    """Hours whose cells changed since the ledger was read or committed, and `origin` if the
    origin did (None: not tracked, e.g. a ledger made from scratch; write every cell)."""

    # --- the summaries ---

    def summary(self, hour: datetime) -> HourSummary:
        """The `HourSummary` of an open hour."""
        readings = self.open[hour]
        known = self.sums.get(hour)
        if known is None or known.readings != len(readings):
            known = self.sums[hour] = HourSummary.of(readings)
        return known

    def base(self) -> Occupancy:
        """The fold state before the first open hour."""
        return self.closed[max(self.closed)].end if self.closed else self.origin

    def occupancy(self) -> Occupancy:
        """The fold of every event the ledger holds (the open hours through their tree)."""
        return self._composed().apply(self.base())[0]

    def _composed(self) -> HourSummary:
        """Every open hour's summary composed, after bringing the tree up to date."""
        if self.stale is None:
            self.stale = set()
            self.tree = SummaryTree.build({_number(h): self.summary(h) for h in self.open})
        if self.stale:
            self.tree.set(
                {_number(h): self.summary(h) if h in self.open else EMPTY for h in self.stale}
            )
            self.stale.clear()
        return self.tree.total()

    def hours(self) -> Iterator[tuple[HourlyCount, Occupancy, Peak]]:
        """Every kept hour in time order: its entries and exits, the state before it, its peak."""
        for hour in sorted(self.closed):
            c = self.closed[hour]
            yield HourlyCount(hour, c.entries, c.exits), c.start, c.peak
        state = self.base()
        for hour in sorted(self.open):
            summary = self.summary(hour)
            end, peak = summary.apply(state)
            yield HourlyCount(hour, summary.entries, summary.exits), state, peak
            state = end

    def hourly(self, hours: Iterable[datetime]) -> dict[datetime, HourlyCount]:
        """The counts of those of `hours` the ledger keeps."""
        counts = {}
        for hour in sorted(set(hours)):
            if hour in self.open:
                summary = self.summary(hour)
                counts[hour] = HourlyCount(hour, summary.entries, summary.exits)
            elif hour in self.closed:
                closed = self.closed[hour]
                counts[hour] = HourlyCount(hour, closed.entries, closed.exits)
        return counts

    def daily_peaks(self, since: datetime) -> dict[datetime, DailyPeak]:
        """The peak of each UTC day from the day of `since` on (`analytics.DailyPeak`: the level
        carried into the day counts, reached at midnight)."""
        first = day_of(since)
        peaks: dict[datetime, DailyPeak] = {}
        for counted, start, peak in self.hours():
            day = day_of(counted.hour)
            if day < first:
                continue
            best = peaks.setdefault(day, DailyPeak(day, start.value, day))
            if peak.value > best.value and peak.at is not None:
                peaks[day] = DailyPeak(day, peak.value, peak.at)
        return peaks

    def readings(self) -> int:
        """How many events the open hours hold (what the size bound counts)."""
        return self._composed().readings

    # --- changing it ---

    def late(self, events: Iterable[Event]) -> Late | None:
        """`Late` when an event falls in or before a closed or dropped hour, else None (merge)."""
        hours = [hour_of(e.event_time) for e in events]
        if self.floor is not None and any(h < self.floor for h in hours):
            return Late(None)
        if not self.closed:
            return None
        early = [h for h in hours if h <= max(self.closed)]
        if not early:
            return None
        kept = [h for h in self.closed if h <= min(early)]
        return Late(max(kept) if kept else None)

    def merge(self, events: Iterable[Event], *, peaks: bool = True) -> Change:
        """Add events (any order, any duplicates) that `late` accepted. `peaks=False` leaves the
        daily peaks out of the `Change` (they cost a walk over every kept hour)."""
        counted: set[datetime] = set()
        kept: dict[datetime, int] = {}
        try:
            self._insert(events, counted, kept)
        finally:  # even past an event `late` should have refused: what was added stays whole
            for hour in counted:
                self._changed(hour, kept[hour])
        return self._settle(min(counted, default=None), counted, peaks)

    def _insert(
        self, events: Iterable[Event], counted: set[datetime], kept: dict[datetime, int]
    ) -> None:
        """Insert each new reading in its hour's order, adding its hour to `counted`; `kept`
        gets, per hour entered, how many of its first readings are still its first (-1 once a
        reading went before one of them).

        A batch's events mostly fall in the hour of the event before, so the hour is found
        again (and checked against closed history) only when an event leaves the last one's."""
        last_closed = max(self.closed, default=None)
        start = end = EPOCH
        readings: list[Reading] = []
        added: list[Reading] | None = None
        for event in events:
            t = event.event_time
            if not start <= t < end:
                start = hour_of(t)
                end = start + HOUR
                if (last_closed and start <= last_closed) or (self.floor and start < self.floor):
                    raise ValueError(f"{t} is in closed history: rebuild instead")
                readings = self.open.setdefault(start, [])
                kept.setdefault(start, len(readings))
                added = None
            reading = (t, event.event_id, event.delta)
            if not readings or readings[-1] < reading:  # in time order: the common case
                readings.append(reading)
            else:
                i = bisect.bisect_left(readings, reading)
                if i < len(readings) and readings[i] == reading:
                    continue
                readings.insert(i, reading)
                kept[start] = -1
            if added is None:
                added = self.added.setdefault(start, [])
                counted.add(start)
            added.append(reading)

    def rebuild(
        self, since: datetime | None, events: Iterable[Event], *, peaks: bool = True
    ) -> Change:
        """Replace every hour from `since` (None: all) with `events`: all the service's event
        rows from that hour on, as `late` asked for."""
        replaced = {h for h in self.closed if since is None or h >= since} | set(self.open)
        if since is None:
            self.closed, self.origin, self.floor = {}, Occupancy(), None
        else:
            kept = {h: c for h, c in self.closed.items() if h < since}
            if not kept:
                self.origin = self.closed[since].start
            self.closed = kept
        readings: dict[datetime, set[Reading]] = {}
        for e in events:
            readings.setdefault(hour_of(e.event_time), set()).add(
                (e.event_time, e.event_id, e.delta)
            )
        self.open = {hour: sorted(r) for hour, r in readings.items()}
        self.sums, self.cells, self.added, self.stale = {}, {}, {}, None
        self._touch(*replaced, *self.open)
        self._touch_origin()
        return self._settle(min(self.open, default=None), set(self.open), peaks)

    def _settle(self, since: datetime | None, counted: set[datetime], peaks: bool) -> Change:
        """The summaries the change touched (taken before old days go), then close and trim."""
        if since is None:
            return Change()
        change = Change(self.hourly(counted), self.daily_peaks(since) if peaks else {})
        self._close()
        self._drop_old_days()
        return change

    def _changed(self, hour: datetime, kept: int = -1) -> None:
        """The hour's readings changed (or it closed): its summary is stale (its cell, kept with
        the readings added since, is dropped by `_close`). When its first `kept` readings are
        those its known summary covers, the summary is extended by the readings appended, which
        costs O(readings added) instead of O(readings) when next needed (`compose` is exact)."""
        known = self.sums.pop(hour, None)
        if known is not None and kept >= 0 and known.readings == kept and hour in self.open:
            self.sums[hour] = known.compose(HourSummary.of(self.open[hour][kept:]))
        if self.stale is not None:
            self.stale.add(hour)
        self._touch(hour)

    def _touch(self, *hours: datetime) -> None:
        if self.touched is not None:
            self.touched.update(hours)

    def _touch_origin(self) -> None:
        if self.touched is not None:
            self.touched.add(ORIGIN_TOUCHED)

    def _close(self) -> None:
        """Close the oldest open hours more than `horizon` hours older than the newest, while the
        open hours hold more than `budget` readings."""
        held = self.readings()
        if not self.open or held <= self.budget:
            return
        cutoff = max(self.open) - self.horizon * HOUR
        state = self.base()
        for hour in sorted(self.open):
            if hour >= cutoff or held <= self.budget:
                break
            summary = self.summary(hour)
            held -= len(self.open.pop(hour))
            self.cells.pop(hour, None)
            self.added.pop(hour, None)
            self._changed(hour)
            end, peak = summary.apply(state)
            self.closed[hour] = ClosedHour(state, end, summary.entries, summary.exits, peak)
            state = end

    def _drop_old_days(self) -> None:
        """Drop whole days of closed hours, oldest first, while more than `max_closed` are kept
        (a day is never split, so every kept day's peak is whole); never a day with open hours."""
        while len(self.closed) > self.max_closed:
            day = day_of(min(self.closed))
            next_day = day + 24 * HOUR
            # Every open hour is newer than every closed one, so comparisons do: walking the open
            # hours with `day_of` once per batch grew with them (a third of a long run's worker).
            if self.open and min(self.open) < next_day:
                return
            for hour in sorted(h for h in self.closed if h < next_day):
                self.origin = self.closed.pop(hour).end
                self._touch(hour)
            self.floor = day + 24 * HOUR
            self._touch_origin()


ORIGIN_TOUCHED = datetime.min.replace(tzinfo=EPOCH.tzinfo)
"""Stands for the `origin` cell in `HourLedger.touched` (no hour is this early)."""


def _number(hour: datetime) -> int:
    """An hour's place in the `SummaryTree`: hours since the epoch."""
    return (hour - EPOCH) // HOUR
