"""Use cases: what each pipeline shape does with a Pub/Sub message. Entry points stay thin.

The decision on failure is made here, explicitly: bad input (`InvalidEvent`) is dead-lettered with
its reason and acknowledged; anything else (a backend unavailable, contention) propagates so Pub/Sub
redelivers. Every step is idempotent, so a redelivery after a crash at any point is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache, partial
from typing import TypeVar

from etl import pipeline
from etl.logs import log
from etl.service import ledger
from etl.service.counters import Counters
from etl.service.group_commit import GroupCommit
from etl.service.ports import Bus, EventStore
from etl_core import Event, InvalidEvent, PubSubMessage, event_key, parse_event

T = TypeVar("T")


class Outcome(StrEnum):
    PROCESSED = "processed"
    DEAD_LETTERED = "dead_lettered"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What a deployed process runs the handlers with: the ports wired to real adapters (see
    `etl.wiring`), a clock, counters. Built once per process. (A pipeline *shape*, `current`,
    `fanout` or `worker`, is which handlers run.)"""

    table: EventStore
    bus: Bus
    written_topic: str
    clock: Callable[[], datetime] = _utc_now
    limits: ledger.Limits = field(default_factory=ledger.Limits)
    counters: Counters = field(default_factory=Counters)
    commits: GroupCommit[Event, dict[str, ledger.Committed]] = field(default_factory=GroupCommit)
    """Concurrent deliveries' ledger commits, shared per summary (`merge`)."""
    writes: GroupCommit[Event, None] = field(default_factory=GroupCommit)
    """Concurrent deliveries' event-row writes (and announcements), shared (`store`)."""
    ledgers: ledger.LedgerCache = field(default_factory=ledger.LedgerCache)
    """The summary rows' ledgers this process committed last (a commit builds on them unread)."""

    def count(self, name: str, n: int = 1) -> None:
        self.counters.add(name, n)

    def flush_counters(self, *, force: bool = False) -> None:
        """Add this process's counts since the last flush to the table's counters row: at most
        about once a second, unless `force` (at shutdown)."""
        self.counters.flush(self.table.add_counters, force=force)


Work = Callable[[Runtime, Sequence[Event]], None]
"""What a shape does with the valid events of a delivery."""


def dead_letter(rt: Runtime, message: PubSubMessage, err: InvalidEvent, source: str) -> None:
    """Send bad input to the dead-letter topic with its reason; the caller then acknowledges."""
    rt.bus.dead_letter(message, err.reason, err.message, source)
    rt.count("dead_lettered")
    log.warning(
        "dead-lettered",
        reason=str(err.reason),
        detail=err.message,
        message_id=message.message_id,
        source=source,
    )


def parse_or_dead_letter(rt: Runtime, message: PubSubMessage, source: str) -> Event | None:
    """The event, or None after the message went to the dead-letter topic with its reason."""
    try:
        return parse_event(message.data, now=rt.clock(), message_id=message.message_id)
    except InvalidEvent as err:
        dead_letter(rt, message, err, source)
        return None


def store(rt: Runtime, events: Sequence[Event]) -> None:
    """Write the event rows; a push delivery's row goes in one write with the rows of the
    deliveries this process handles at the same moment (`GroupCommit`)."""
    _together(rt.writes, "rows", events, rt.table.write_events)


def announce(rt: Runtime, events: Sequence[Event]) -> None:
    """Store the events, then republish them on the `written` topic for the calculations: one
    row write and one publish for the concurrent deliveries of this process."""

    def write_and_publish(group: Sequence[Event]) -> None:
        rt.table.write_events(group)
        rt.bus.publish_events(rt.written_topic, group)

    _together(rt.writes, "announce", events, write_and_publish)


def _together(
    groups: GroupCommit[Event, T],
    key: str,
    events: Sequence[Event],
    run: Callable[[list[Event]], T],
) -> T:
    """`run(events)`, shared with the concurrent push deliveries of this process (each brings one
    event); a batch (the worker) is already a group and runs alone.

    A group is whole or failed: every delivery in it sees the group's error and is redelivered,
    and every step is idempotent, so a redelivery of the others is harmless. The writes of the
    next group start while this group's ledger commit is in flight (`writes` and `commits` are
    separate groups): the two stages of a delivery are pipelined."""
    if len(events) > 1:
        return run(list(events))
    return groups.run(key, events, run)


def merge(rt: Runtime, summary: ledger.Summary, events: Sequence[Event]) -> None:
    """Merge stored events into a summary: the concurrent push deliveries of this process share
    one commit per service, and one read of the summary rows it did not commit last
    (`_together`)."""
    _together(rt.commits, summary.name, events, partial(_commit, rt, summary))


def _commit(
    rt: Runtime, summary: ledger.Summary, events: list[Event]
) -> dict[str, ledger.Committed]:
    committed = ledger.update(rt.table, summary, events, rt.clock(), rt.limits, rt.ledgers)
    rt.count("rows_read", sum(c.rows_read for c in committed.values()))
    rt.count("summary_bytes_read", sum(c.cells_read for c in committed.values()))
    rt.count("summary_commits", sum(c.wrote for c in committed.values()))
    rt.count("lost_races", sum(c.lost_races for c in committed.values()))
    if summary is ledger.OCCUPANCY:  # the original design's cell: occupancy when written
        snapshots = {
            event_key(e.service, e.event_time, e.event_id): committed[e.service].occupancy.value
            for e in events
        }
        rt.table.write_snapshots(snapshots, rt.clock())
    return committed


def update_occupancy(rt: Runtime, events: Sequence[Event]) -> None:
    """The occupancy of every service in `events` (and its snapshot on their rows)."""
    merge(rt, ledger.OCCUPANCY, events)


def update_hourly(rt: Runtime, events: Sequence[Event]) -> None:
    """The entries and exits of every hour the events touch."""
    merge(rt, ledger.HOURLY, events)


def update_daily(rt: Runtime, events: Sequence[Event]) -> None:
    """The peak occupancy of every day from the earliest event's on."""
    merge(rt, ledger.DAILY, events)


def store_and_update(rt: Runtime, events: Sequence[Event]) -> None:
    """The original design's single function: the event row, then its service's occupancy."""
    store(rt, events)
    update_occupancy(rt, events)


def handle(rt: Runtime, message: PubSubMessage, source: str, work: Work, counter: str) -> Outcome:
    """One delivery: parse (bad input is dead-lettered), do `work`, count it under `counter`."""
    event = parse_or_dead_letter(rt, message, source)
    if event is None:
        return Outcome.DEAD_LETTERED
    work(rt, [event])
    rt.count(counter)
    log.info(
        "processed",
        source=source,
        message_id=message.message_id,
        event_id=event.event_id,
        service=event.service,
    )
    return Outcome.PROCESSED


def handle_current(rt: Runtime, message: PubSubMessage) -> Outcome:
    """The original design's pipeline: write the event, then its service's occupancy."""
    return handle(rt, message, "pubsub_receiver", store_and_update, "deliveries")


def handle_write_event(rt: Runtime, message: PubSubMessage) -> Outcome:
    """Fan-out step 1: store the event row, then announce it on the `written` topic."""
    return handle(rt, message, "write_event", announce, "deliveries")


Handler = Callable[[Runtime, PubSubMessage], Outcome]


@cache
def of(function: pipeline.Function) -> Handler:
    """The handler of a registry function: the one it names, or, for a fan-out calculation, one
    that merges the stored event into the calculation's ledger summary (counted as a
    calculation). The same object for the same function (cached)."""
    if function.handler:
        named: Handler = globals()[function.handler]
        return named
    summary = ledger.SUMMARIES[function.summary]

    def update(rt: Runtime, events: Sequence[Event]) -> None:
        merge(rt, summary, events)

    def calculate(rt: Runtime, message: PubSubMessage) -> Outcome:
        return handle(rt, message, function.name, update, "calculations")

    return calculate


def handle_batch(rt: Runtime, messages: Sequence[PubSubMessage]) -> list[Outcome]:
    """The streaming worker: one batched write and one refresh per service for many messages."""
    outcomes: list[Outcome] = []
    events: dict[tuple[str, str], Event] = {}
    for message in messages:
        event = parse_or_dead_letter(rt, message, "worker")
        outcomes.append(Outcome.DEAD_LETTERED if event is None else Outcome.PROCESSED)
        if event is not None:
            events.setdefault((event.service, event.event_id), event)
    batch = list(events.values())
    if batch:
        store_and_update(rt, batch)
        update_hourly(rt, batch)
    rt.count("deliveries", sum(o is Outcome.PROCESSED for o in outcomes))
    rt.count("batches")
    return outcomes
