"""Use cases: what each pipeline shape does with a Pub/Sub message. Entry points stay thin.

The decision on failure is made here, explicitly: bad input (`InvalidEvent`) is dead-lettered with
its reason and acknowledged; anything else (a backend unavailable, contention) propagates so Pub/Sub
redelivers. Every step is idempotent, so a redelivery after a crash at any point is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Protocol

from etl import ledger
from etl.ledger import SummaryStore
from etl.logs import log
from etl.singleflight import SingleFlight
from etl_core import Event, InvalidEvent, Occupancy, PubSubMessage, event_key, parse_event


class Outcome(StrEnum):
    PROCESSED = "processed"
    DEAD_LETTERED = "dead_lettered"


class EventStore(SummaryStore, Protocol):
    """The table port: summaries plus event rows."""

    def write_events(self, events: Sequence[Event]) -> None: ...
    def add_counters(self, counters: Mapping[str, int]) -> None: ...
    def write_snapshots(self, keys: Sequence[bytes], occupancy: int, at: datetime) -> None: ...


class Bus(Protocol):
    """The Pub/Sub port."""

    def ensure_topic(self, topic: str) -> str: ...
    def publish_events(self, topic: str, events: Sequence[Event]) -> list[str]: ...
    def dead_letter(self, message: PubSubMessage, reason: str, detail: str, source: str) -> str: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _nonce() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Pipeline:
    """The wired dependencies of every handler; built once per process (see `etl.wiring`)."""

    table: EventStore
    bus: Bus
    written_topic: str
    clock: Callable[[], datetime] = _utc_now
    nonce: Callable[[], str] = _nonce
    counters: dict[str, int] = field(default_factory=dict)
    occupancy_flights: SingleFlight[Occupancy] = field(default_factory=SingleFlight)
    hourly_flights: SingleFlight[object] = field(default_factory=SingleFlight)

    unflushed: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        if n:
            self.counters[name] = self.counters.get(name, 0) + n
            self.unflushed[name] = self.unflushed.get(name, 0) + n

    def flush_counters(self) -> None:
        """Add this process's counts since the last flush to the table's shared counters row."""
        pending, self.unflushed = self.unflushed, {}
        if pending:
            self.table.add_counters(pending)


def parse_or_dead_letter(pipe: Pipeline, message: PubSubMessage, source: str) -> Event | None:
    """The event, or None after the message went to the dead-letter topic with its reason."""
    try:
        return parse_event(message.data, now=pipe.clock(), message_id=message.message_id)
    except InvalidEvent as err:
        pipe.bus.dead_letter(message, err.reason, err.message, source)
        pipe.count("dead_lettered")
        log.warning(
            "dead-lettered",
            reason=str(err.reason),
            detail=err.message,
            message_id=message.message_id,
            source=source,
        )
        return None


def update_occupancy(pipe: Pipeline, events: Sequence[Event]) -> None:
    """Mark, refresh and snapshot the occupancy of every service in `events`."""
    ledger.mark(pipe.table, events, pipe.nonce())
    for service in sorted({e.service for e in events}):
        refresh = partial(ledger.refresh_occupancy, pipe.table, service, pipe.clock())
        occupancy = pipe.occupancy_flights.run(service, refresh)
        keys = [
            event_key(e.service, e.event_time, e.event_id) for e in events if e.service == service
        ]
        pipe.table.write_snapshots(keys, occupancy.value, pipe.clock())


def update_hourly(pipe: Pipeline, events: Sequence[Event]) -> None:
    """Mark and recount the touched hours of every service in `events`."""
    ledger.mark_hours(pipe.table, events, pipe.nonce())
    for service in sorted({e.service for e in events}):
        pipe.hourly_flights.run(service, partial(ledger.refresh_hourly, pipe.table, service))


def handle_current(pipe: Pipeline, message: PubSubMessage) -> Outcome:
    """The seed's current pipeline: write the event, then its service's occupancy."""
    event = parse_or_dead_letter(pipe, message, "pubsub_receiver")
    if event is None:
        return Outcome.DEAD_LETTERED
    pipe.table.write_events([event])
    update_occupancy(pipe, [event])
    pipe.count("deliveries")
    log.info(
        "processed", message_id=message.message_id, event_id=event.event_id, service=event.service
    )
    return Outcome.PROCESSED


def handle_write_event(pipe: Pipeline, message: PubSubMessage) -> Outcome:
    """Fan-out step 1: store the event row, then announce it on the `written` topic."""
    event = parse_or_dead_letter(pipe, message, "write_event")
    if event is None:
        return Outcome.DEAD_LETTERED
    pipe.table.write_events([event])
    pipe.bus.publish_events(pipe.written_topic, [event])
    pipe.count("deliveries")
    log.info(
        "written", message_id=message.message_id, event_id=event.event_id, service=event.service
    )
    return Outcome.PROCESSED


def handle_calculate_occupancy(pipe: Pipeline, message: PubSubMessage) -> Outcome:
    """Fan-out calculation: occupancy of the stored event's service."""
    event = parse_or_dead_letter(pipe, message, "calculate_occupancy")
    if event is None:
        return Outcome.DEAD_LETTERED
    update_occupancy(pipe, [event])
    pipe.count("calculations")
    return Outcome.PROCESSED


def handle_hourly_counts(pipe: Pipeline, message: PubSubMessage) -> Outcome:
    """Fan-out calculation: entries and exits of the stored event's service-hour."""
    event = parse_or_dead_letter(pipe, message, "hourly_counts")
    if event is None:
        return Outcome.DEAD_LETTERED
    update_hourly(pipe, [event])
    pipe.count("calculations")
    return Outcome.PROCESSED


def handle_batch(pipe: Pipeline, messages: Sequence[PubSubMessage]) -> list[Outcome]:
    """The streaming worker: one batched write and one refresh per service for many messages."""
    outcomes: list[Outcome] = []
    events: dict[tuple[str, str], Event] = {}
    for message in messages:
        event = parse_or_dead_letter(pipe, message, "worker")
        outcomes.append(Outcome.DEAD_LETTERED if event is None else Outcome.PROCESSED)
        if event is not None:
            events.setdefault((event.service, event.event_id), event)
    batch = list(events.values())
    if batch:
        pipe.table.write_events(batch)
        update_occupancy(pipe, batch)
        update_hourly(pipe, batch)
    pipe.count("deliveries", sum(o is Outcome.PROCESSED for o in outcomes))
    return outcomes
