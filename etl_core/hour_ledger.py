"""A site's summaries kept per hour, so that a batch updates them without reading event rows back.

The state of one service (`HourLedger`) is a chain of hours in time order:

- **open hours**, the newest: every hour within `horizon` hours of the newest hour that has
  events, and older ones too while the open hours hold at most `budget` readings (a sparse site
  keeps days open, a busy one its last hours). Each keeps its unique events as `Reading`s in fold
  order, so a redelivery changes nothing and a late event is inserted in its place. Folding them
  costs O(readings kept), whatever the arrival order.
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
from etl_core.occupancy import Occupancy

HOUR = timedelta(hours=1)
HORIZON_HOURS = 2
"""Hours behind the newest one that stay open: lateness up to this costs no reads."""
OPEN_READINGS = 20_000
"""Readings the open hours may hold before hours older than the horizon close (~1 MB a row)."""
MAX_CLOSED_HOURS = 24 * 7
"""Closed hours kept per service; an event older than all of them rebuilds from the first row."""


@dataclass(frozen=True, slots=True, order=True)
class Reading:
    """One unique event of an open hour; ordered as the fold orders events."""

    time: datetime
    event_id: str
    delta: int


@dataclass(frozen=True, slots=True)
class ClosedHour:
    """What the summaries need of an hour that takes no more events without a rebuild."""

    start: Occupancy
    end: Occupancy
    entries: int
    exits: int
    peak: Peak


@dataclass(frozen=True, slots=True)
class HourSummary:
    """What an hour's readings do to any fold state, so that a chain of hours folds in O(hours).

    With P_i the sum of the first i deltas (P_0 = 0) and M_i the least of P_0..P_i, the fold from
    a value v >= 0 is the walk reflected at zero: after i readings the value is
    max(v + P_i, P_i - M_i) and the anomalies so far max(0, -(v + M_i)). So the hour's end state
    needs only the total and the least prefix, and its peak the highest prefix (`high`) and the
    highest rise above an earlier low (`rise`), each with the first reading that reaches it.
    """

    readings: int = 0
    entries: int = 0
    total: int = 0
    low: int = 0
    high: int = 0
    high_at: tuple[int, datetime | None] = (0, None)
    rise: int = 0
    rise_at: tuple[int, datetime | None] = (0, None)

    @classmethod
    def of(cls, readings: Iterable[Reading]) -> HourSummary:
        n = entries = total = low = high = rise = 0
        high_at: tuple[int, datetime | None] = (0, None)
        rise_at: tuple[int, datetime | None] = (0, None)
        for r in readings:
            n += 1
            if r.delta > 0:
                entries += 1
            total += r.delta
            low = min(low, total)
            if n == 1 or total > high:
                high, high_at = total, (n, r.time)
            if total - low > rise:
                rise, rise_at = total - low, (n, r.time)
        return cls(n, entries, total, low, high, high_at, rise, rise_at)

    @property
    def exits(self) -> int:
        return self.readings - self.entries

    def apply(self, state: Occupancy) -> tuple[Occupancy, Peak]:
        """The state after the hour's readings from `state`, and the hour's peak (`Peak`: its
        highest value and the first reading that reached it), from the summary alone."""
        if not self.readings:
            return state, Peak(0, None)
        v = state.value
        end = Occupancy(
            max(v + self.total, self.total - self.low),
            state.anomalies + max(0, -(v + self.low)),
            state.events + self.readings,
        )
        top = max(v + self.high, self.rise)
        if top <= 0:
            return end, Peak(0, None)
        reached = [
            at
            for value, at in ((v + self.high, self.high_at), (self.rise, self.rise_at))
            if value == top and at[1] is not None
        ]
        return end, Peak(top, min(reached, key=lambda at: at[0])[1])


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
    """The stored cell each open hour was decoded from, dropped when its readings change: an
    hour a batch leaves alone is written back as it was read, without encoding it again."""

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
        """The fold of every event the ledger holds."""
        state = self.base()
        for hour in sorted(self.open):
            state = self.summary(hour).apply(state)[0]
        return state

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
        return sum(len(r) for r in self.open.values())

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

    def merge(self, events: Iterable[Event]) -> Change:
        """Add events (any order, any duplicates) that `late` accepted."""
        since: datetime | None = None
        counted: set[datetime] = set()
        for event in events:
            hour = hour_of(event.event_time)
            if (self.closed and hour <= max(self.closed)) or (self.floor and hour < self.floor):
                raise ValueError(f"{event.event_time} is in closed history: rebuild instead")
            readings = self.open.setdefault(hour, [])
            reading = Reading(event.event_time, event.event_id, event.delta)
            i = bisect.bisect_left(readings, reading)
            if i < len(readings) and readings[i] == reading:
                continue
            readings.insert(i, reading)
            self._changed(hour)
            counted.add(hour)
            since = hour if since is None else min(since, hour)
        return self._settle(since, counted)

    def rebuild(self, since: datetime | None, events: Iterable[Event]) -> Change:
        """Replace every hour from `since` (None: all) with `events`: all the service's event
        rows from that hour on, as `late` asked for."""
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
                Reading(e.event_time, e.event_id, e.delta)
            )
        self.open = {hour: sorted(r) for hour, r in readings.items()}
        self.sums, self.cells = {}, {}
        return self._settle(min(self.open, default=None), set(self.open))

    def _settle(self, since: datetime | None, counted: set[datetime]) -> Change:
        """The summaries the change touched (taken before old days go), then close and trim."""
        if since is None:
            return Change()
        change = Change(self.hourly(counted), self.daily_peaks(since))
        self._close()
        self._drop_old_days()
        return change

    def _changed(self, hour: datetime) -> None:
        """The hour's readings changed (or it closed): what was memoised of them is stale."""
        self.sums.pop(hour, None)
        self.cells.pop(hour, None)

    def _close(self) -> None:
        """Close the oldest open hours more than `horizon` hours older than the newest, while the
        open hours hold more than `budget` readings."""
        if not self.open:
            return
        cutoff = max(self.open) - self.horizon * HOUR
        held = self.readings()
        state = self.base()
        for hour in sorted(self.open):
            if hour >= cutoff or held <= self.budget:
                break
            summary = self.summary(hour)
            held -= len(self.open.pop(hour))
            self._changed(hour)
            end, peak = summary.apply(state)
            self.closed[hour] = ClosedHour(state, end, summary.entries, summary.exits, peak)
            state = end

    def _drop_old_days(self) -> None:
        """Drop whole days of closed hours, oldest first, while more than `max_closed` are kept
        (a day is never split, so every kept day's peak is whole); never a day with open hours."""
        while len(self.closed) > self.max_closed:
            day = day_of(min(self.closed))
            if any(day_of(h) == day for h in self.open):
                return
            for hour in sorted(h for h in self.closed if day_of(h) == day):
                self.origin = self.closed.pop(hour).end
            self.floor = day + 24 * HOUR
