"""Resumable occupancy: refold a service from a checkpoint instead of from its first event.

The stored status of a service is derived from its event rows, never incremented in place, so a
redelivered or duplicate event cannot be counted twice. To keep the refold short, the fold state is
checkpointed at hour boundaries: `checkpoints[h]` is the state after every event with time < h.
Writers leave a *dirty marker* (the event's time) beside the status; the next refresh resumes at
the latest checkpoint not after the earliest dirty time, so late events hours behind the rest are
folded in their place and everything after them is refolded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from etl_core.analytics import hour_of
from etl_core.errors import EtlError
from etl_core.events import Event
from etl_core.occupancy import Occupancy, sort_key

MAX_CHECKPOINTS = 24 * 7
"""Hourly checkpoints kept per service; an event older than all of them refolds from the start."""


class CorruptStatus(EtlError, ValueError):
    """A stored status cell does not decode; the status is rebuilt from the event rows."""


def resume_point(
    checkpoints: Mapping[datetime, Occupancy], dirty: Iterable[datetime]
) -> tuple[datetime | None, Occupancy]:
    """Where a refresh starts: the latest checkpoint at or before the earliest dirty time.

    Returns `(None, Occupancy())` when no checkpoint qualifies: refold the service from its start.
    """
    earliest = min(dirty, default=None)
    candidates = [h for h in checkpoints if earliest is None or h <= earliest]
    if not candidates:
        return None, Occupancy()
    start = max(candidates)
    return start, checkpoints[start]


def refold(
    start: Occupancy, events: Iterable[Event]
) -> tuple[Occupancy, dict[datetime, Occupancy]]:
    """Fold `events` (unique, all at or after the resume point) from `start`.

    Returns the final state and a checkpoint for every hour in which an event occurs: the state
    just before that hour's first event. Events are sorted here, so callers may pass rows in key
    order (which differs from `sort_key` order only among same-millisecond events).
    """
    state = start
    checkpoints: dict[datetime, Occupancy] = {}
    for event in sorted(events, key=sort_key):
        hour = hour_of(event.event_time)
        checkpoints.setdefault(hour, state)
        state = state.apply(event.delta)
    return state, checkpoints


def keep_latest(checkpoints: Mapping[datetime, Occupancy]) -> dict[datetime, Occupancy]:
    """The newest `MAX_CHECKPOINTS` checkpoints, so a status row stays small."""
    latest = sorted(checkpoints)[-MAX_CHECKPOINTS:]
    return {h: checkpoints[h] for h in latest}


def encode_state(state: Occupancy) -> bytes:
    """`value,anomalies,events` in ASCII: readable with `cbt read`."""
    return f"{state.value},{state.anomalies},{state.events}".encode("ascii")


def decode_state(raw: bytes) -> Occupancy:
    try:
        value, anomalies, events = (int(part) for part in raw.decode("ascii").split(","))
        return Occupancy(value=value, anomalies=anomalies, events=events)
    except ValueError as exc:
        raise CorruptStatus(f"not an encoded occupancy state: {raw!r}") from exc
