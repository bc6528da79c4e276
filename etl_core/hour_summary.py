"""What an hour's readings do to any fold state (`HourSummary`), composed over many hours in a
tree (`SummaryTree`) so that a change to one hour recomposes only that hour's path.

Summaries form a monoid under `compose` (the empty summary is the identity, and composing the
summaries of two runs of readings gives the summary of the readings one after the other), so a
chain of hours folds as a tree of summaries: a batch that touches k of H open hours costs
O(k log H) compositions, not O(H), whatever the order in which the hours were touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from etl_core.analytics import Peak
from etl_core.occupancy import Occupancy

At = tuple[int, datetime | None]
"""A reading's place in a run (1-based) and its time; (0, None) before any."""


Reading = tuple[datetime, str, int]
"""One unique event of an open hour, `(time, event id, delta)`, ordered as the fold orders
events. A plain tuple, not a class: built and compared in C, and the interpreter's cycle
collector stops tracking a tuple of atoms, so the readings a ledger keeps (up to its budget)
add nothing to the collector's full passes, which would otherwise grow with them."""


class HourSummary(NamedTuple):
    """What an hour's readings do to any fold state, so that a chain of hours folds in O(hours).

    With P_i the sum of the first i deltas (P_0 = 0) and M_i the least of P_0..P_i, the fold from
    a value v >= 0 is the walk reflected at zero: after i readings the value is
    max(v + P_i, P_i - M_i) and the anomalies so far max(0, -(v + M_i)). So the hour's end state
    needs only the total and the least prefix, and its peak the highest prefix (`high`) and the
    highest rise above an earlier low (`rise`), each with the first reading that reaches it.
    A tuple (immutable, built in C): the tree makes one per composition.
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
        high_at: At = (0, None)
        rise_at: At = (0, None)
        for time, _, delta in readings:
            n += 1
            total += delta
            if delta > 0:
                entries += 1
            elif total < low:
                low = total
            if n == 1 or total > high:
                high, high_at = total, (n, time)
            if total - low > rise:
                rise, rise_at = total - low, (n, time)
        return cls(n, entries, total, low, high, high_at, rise, rise_at)

    @property
    def exits(self) -> int:
        return self.readings - self.entries

    def compose(self, after: HourSummary) -> HourSummary:
        """The summary of this run's readings followed by `after`'s (the monoid operation).

        A prefix of the joined run past this one is `total` plus a prefix of `after`, and the
        least prefix before it is min(low, total + least prefix of `after`): so the joined
        highest prefix and highest rise come from this run's, or from `after`'s shifted by
        `total` (rise: by `total - low`), and ties go to the earlier reading, as in `of`."""
        n, entries, total, low, high, high_at, rise, rise_at = self
        (
            m,
            entries_after,
            total_after,
            low_after,
            high_after,
            high_after_at,
            rise_after,
            rise_after_at,
        ) = after
        if not m:
            return self
        if not n:
            return after
        if total + high_after > high:
            high, high_at = total + high_after, (high_after_at[0] + n, high_after_at[1])
        carried = total - low + high_after
        best = carried if carried > rise_after else rise_after
        if best > rise:  # so best > 0, and `after` reached it at its high or at its rise
            if carried == rise_after:
                at = high_after_at if high_after_at[0] <= rise_after_at[0] else rise_after_at
            else:
                at = high_after_at if carried > rise_after else rise_after_at
            rise, rise_at = best, (at[0] + n, at[1])
        low_joined = total + low_after
        return _new(
            HourSummary,
            (
                n + m,
                entries + entries_after,
                total + total_after,
                low if low < low_joined else low_joined,
                high,
                high_at,
                rise,
                rise_at,
            ),
        )

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


_new = tuple.__new__
"""Builds a summary from its fields without NamedTuple's keyword-handling `__new__` (the tree
composes about two summaries per changed hour and level)."""
EMPTY = HourSummary()
TOP = 12
"""Levels above the hours: a top node covers 2**12 hours (about 170 days), so a change walks 12
levels, and the tops (one per 170 days a row spans) compose in `total`."""


@dataclass(slots=True)
class SummaryTree:
    """Hour summaries by hour number, composed in a tree of fixed, aligned spans: the node
    (level, i) covers hours [i * 2**level, (i + 1) * 2**level), so a node's place never depends
    on which other hours exist, and setting hours recomposes the TOP levels of nodes above them
    (each shared ancestor once)."""

    nodes: dict[tuple[int, int], HourSummary] = field(default_factory=dict)
    tops: set[int] = field(default_factory=set)
    """The indices of the top nodes that hold readings (one per ~170 days of hours)."""

    def set(self, hours: dict[int, HourSummary]) -> None:
        """Make each summary its hour's (EMPTY removes it) and recompose the nodes above them,
        level by level, so that hours sharing an ancestor recompose it once."""
        nodes, put = self.nodes, self._put
        for i, summary in hours.items():
            put(0, i, summary)
        changed = set(hours)
        for level in range(1, TOP + 1):
            changed = {i >> 1 for i in changed}
            below = level - 1
            for i in changed:
                left = nodes.get((below, 2 * i), EMPTY)
                put(level, i, left.compose(nodes.get((below, 2 * i + 1), EMPTY)))

    @classmethod
    def build(cls, hours: dict[int, HourSummary]) -> SummaryTree:
        """The tree of `hours` (by hour number), level by level: O(nodes), about 2 per hour."""
        tree = cls()
        level = {i: summary for i, summary in hours.items() if summary.readings}
        for depth in range(TOP + 1):
            tree.nodes.update(((depth, i), summary) for i, summary in level.items())
            if depth == TOP:
                tree.tops.update(level)
                break
            parents = {i >> 1 for i in level}
            level = {
                p: level.get(2 * p, EMPTY).compose(level.get(2 * p + 1, EMPTY)) for p in parents
            }
        return tree

    def total(self) -> HourSummary:
        """The composition of every hour's summary, in hour order."""
        whole = EMPTY
        for i in sorted(self.tops):
            whole = whole.compose(self.nodes[(TOP, i)])
        return whole

    def _put(self, level: int, i: int, summary: HourSummary) -> None:
        if summary.readings:
            self.nodes[(level, i)] = summary
        else:
            self.nodes.pop((level, i), None)
        if level == TOP:
            (self.tops.add if summary.readings else self.tops.discard)(i)
