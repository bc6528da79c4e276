"""Occupancy of a site: a deterministic fold of its unique events.

Semantics: the occupancy of a service is the fold of its *unique* events (unique by `event_id`;
the first one seen wins, since an id identifies one reading) in `(event_time, event_id)` order,
starting at 0. An entry (+1) adds one. An exit (-1) at zero is an anomaly (a missed entry or a
sensor fault): it is counted and not applied, so occupancy is never negative. Because the result
depends only on the set of events, redeliveries and any arrival order give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    """Occupancy of every service that has events (`HourLedger` keeps the same fold by merges)."""
    return {service: fold_timeline(t) for service, t in timelines(events).items()}


def fold_timeline(timeline: Iterable[Event]) -> Occupancy:
    """Fold one service's unique events, given in fold order, from the zero state."""
    state = Occupancy()
    for event in timeline:
        state = state.apply(event.delta)
    return state
