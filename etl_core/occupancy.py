"""Occupancy of a site: a deterministic fold of its unique events.

Semantics: the occupancy of a service is the fold of its *unique* events (unique by `event_id`;
the first one seen wins, since an id identifies one reading) in `(event_time, event_id)` order,
starting at 0. An entry (+1) adds one. An exit (-1) at zero is an anomaly (a missed entry or a
sensor fault): it is counted and not applied, so occupancy is never negative. Because the result
depends only on the set of events, redeliveries and any arrival order give the same answer.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from etl_core.events import Event


@dataclass(frozen=True, slots=True)
class Occupancy:
    """State of the fold: people inside, exits ignored at zero, unique events folded."""

    value: int = 0
    anomalies: int = 0
    events: int = 0

    def apply(self, delta: int) -> Occupancy:
        """The state after one more event (`delta` is 1 or -1)."""
        if delta not in (1, -1):
            raise ValueError(f"delta must be 1 or -1, not {delta!r}")
        if delta < 0 and self.value == 0:
            return Occupancy(0, self.anomalies + 1, self.events + 1)
        return Occupancy(self.value + delta, self.anomalies, self.events + 1)


def sort_key(event: Event) -> tuple[datetime, str]:
    """Fold order: event time, ties broken by id (the same order as the event row keys)."""
    return event.event_time, event.event_id


def timelines(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Each service's unique events (first seen wins) in fold order; services sorted by name."""
    seen: dict[str, dict[str, Event]] = {}
    for event in events:
        seen.setdefault(event.service, {}).setdefault(event.event_id, event)
    return {s: sorted(seen[s].values(), key=sort_key) for s in sorted(seen)}


def fold(events: Iterable[Event]) -> dict[str, Occupancy]:
    """Occupancy of every service that has events (batch form of `OccupancyTracker`)."""
    return {service: fold_timeline(t) for service, t in timelines(events).items()}


def fold_timeline(timeline: Iterable[Event]) -> Occupancy:
    """Fold one service's unique events, given in fold order, from the zero state."""
    state = Occupancy()
    for event in timeline:
        state = state.apply(event.delta)
    return state


@dataclass(slots=True)
class _Timeline:
    """One service's unique events in fold order, with the state after each of them."""

    ids: set[str] = field(default_factory=set)
    keys: list[tuple[datetime, str]] = field(default_factory=list)
    deltas: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    anomalies: list[int] = field(default_factory=list)

    def insert(self, event: Event) -> None:
        key = (event.event_time, event.event_id)
        self.ids.add(event.event_id)
        if not self.keys or self.keys[-1] < key:
            self._append(key, event.delta)
            return
        i = bisect_right(self.keys, key)
        self.keys.insert(i, key)
        self.deltas.insert(i, event.delta)
        self.values.insert(i, 0)
        self.anomalies.insert(i, 0)
        self._refold(i)

    def _append(self, key: tuple[datetime, str], delta: int) -> None:
        """The common case, an event after all others: one step of the fold."""
        value, anomalies = (self.values[-1], self.anomalies[-1]) if self.values else (0, 0)
        if delta > 0:
            value += 1
        elif value:
            value -= 1
        else:
            anomalies += 1
        self.keys.append(key)
        self.deltas.append(delta)
        self.values.append(value)
        self.anomalies.append(anomalies)

    def _refold(self, start: int) -> None:
        value, anomalies = (self.values[start - 1], self.anomalies[start - 1]) if start else (0, 0)
        for i in range(start, len(self.deltas)):
            if self.deltas[i] > 0:
                value += 1
            elif value:
                value -= 1
            else:
                anomalies += 1
            self.values[i] = value
            self.anomalies[i] = anomalies

    def state(self) -> Occupancy:
        """State after the last event (a timeline is created with its first event)."""
        return Occupancy(self.values[-1], self.anomalies[-1], len(self.keys))


class OccupancyTracker:
    """Incremental `fold`: add events one at a time, in any order, with any duplicates.

    An event earlier than ones already added is inserted in fold order and only the states after
    it are recomputed, so in-order arrival costs O(1) and a late event O(events after it).
    Invariant: `snapshot()` always equals `fold` over the events added so far.
    """

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._timelines: dict[str, _Timeline] = {}
        for event in events:
            self.add(event)

    def add(self, event: Event) -> bool:
        """Fold in `event`; False (and no change) if its service already has its event id."""
        timeline = self._timelines.get(event.service)
        if timeline is None:
            timeline = self._timelines[event.service] = _Timeline()
        elif event.event_id in timeline.ids:
            return False
        timeline.insert(event)
        return True

    def occupancy(self, service: str) -> Occupancy:
        """Current state of `service` (the zero state if it has no events)."""
        timeline = self._timelines.get(service)
        return timeline.state() if timeline is not None else Occupancy()

    def services(self) -> list[str]:
        """Services with at least one event, sorted."""
        return sorted(self._timelines)

    def snapshot(self) -> dict[str, Occupancy]:
        """Every service's state, keyed and ordered like `fold`'s result."""
        return {s: self._timelines[s].state() for s in self.services()}
