"""What the CLI commands do, over the adapters; printing stays in `etl_harness.cli.app`."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import Settings
from etl.service import ledger
from etl.service.simulation import MAX_LIMIT, Request, publish_paced, simulate_before
from etl_core import (
    DailyPeak,
    EtlError,
    Event,
    Occupancy,
    ServiceSummary,
    daily_key,
    decode_event_key,
    is_event_key,
    status_key,
    summarize,
    validate_service,
)
from etl_core.rowkeys import STATUS_SUFFIX, service_of_status_key
from etl_harness import deadletters, provision, recording
from etl_harness.deadletters import DeadLetter
from etl_harness.local import Local


def publish_simulation(
    local: Local,
    limit: int,
    speed_factor: float,
    seed: int,
    services: str | None,
    on_published: Callable[[int], None] = lambda _: None,
) -> dict[str, Any]:
    """Publish `limit` simulated events paced by `speed_factor`; returns the ground truth.
    `on_published(n)` after each batch of `n` (a progress bar)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"--limit must be from 1 to {MAX_LIMIT}")
    if speed_factor <= 0:
        raise ValueError("--speed-factor must be > 0")
    names = tuple(s.strip() for s in services.split(",")) if services else None
    for name in names or ():
        validate_service(name)
    request = (
        Request(limit, speed_factor, seed, names) if names else Request(limit, speed_factor, seed)
    )
    sim = simulate_before(datetime.now(UTC), request)
    provision.ensure_local(local)
    settings = local.settings
    bus = PubSub(settings)

    def publish(batch: Sequence[Event]) -> None:
        bus.publish_events(settings.events_topic, batch)
        on_published(len(batch))

    try:
        publish_paced(sim.events, speed_factor, publish)
    finally:
        bus.close()
    return {"published": len(sim.events), "groundTruth": sim.ground_truth}


def message_lines(stream: IO[bytes], source: str) -> Iterator[bytes]:
    """The non-empty lines of `stream`, without their line breaks, each one message, byte for
    byte. A recording of `etl record` is refused at once (its lines are envelopes, not messages),
    before anything is published or any client made."""
    lines = (line.rstrip(b"\r\n") for line in stream)
    first = next(lines, b"")
    if recording.is_header(first):
        raise recording.RecordingWithoutReplay(
            f"{source} is a recording of `etl record`; add --replay to publish its messages "
            "with their spacing, attributes and ordering keys"
        )
    return (line for line in itertools.chain([first], lines) if line)


def publish_lines(local: Local, lines: Iterable[bytes]) -> int:
    """Publish each of `lines` as one message to the events topic; how many were published."""
    provision.ensure_local(local)
    settings = local.settings
    bus = PubSub(settings)
    try:
        ids = bus.publish(settings.events_topic, (Outgoing(line) for line in lines))
    finally:
        bus.close()
    return len(ids)


def record_to_file(
    local: Local,
    topic: str,
    out: Path,
    limit: int | None,
    duration: float | None,
    on_ready: Callable[[str], None],
    on_recorded: Callable[[int], None],
) -> recording.Capture:
    """`recording.record` on the configured project, written to `out` (also when stopped by
    Ctrl-C; not when the recording failed)."""
    provision.ensure_local(local)
    bus = PubSub(local.settings)
    try:
        capture = recording.record(bus, topic, limit, duration, on_ready, on_recorded)
    finally:
        bus.close()
    recording.write(capture.recording, out)
    return capture


def replay_recording(
    local: Local,
    recorded: recording.Recording,
    speed_factor: float,
    on_published: Callable[[int], None],
) -> int:
    """`recording.replay` into the configured project (the recorded topic, by name)."""
    provision.ensure_local(local)
    bus = PubSub(local.settings)
    try:
        return recording.replay(bus, recorded, speed_factor, on_published)
    finally:
        bus.close()


class UnknownService(EtlError, LookupError):
    """`--service` names a service the table holds no status for."""


def services(table: EventTable, only: str | None) -> list[str]:
    """Every service with a status row, or just `only` (which must have one)."""
    stored = sorted(service_of_status_key(k) for k in table.list_status_keys(STATUS_SUFFIX))
    if only is None:
        return stored
    validate_service(only)
    if only not in stored:
        known = ", ".join(stored) or "none yet"
        raise UnknownService(f"unknown service {only!r} (stored: {known})")
    return [only]


def read_occupancy(settings: Settings, only: str | None = None) -> dict[str, Occupancy]:
    """Each service's occupancy as its status row holds it (every commit leaves it whole)."""
    table = EventTable(settings)
    try:
        names = services(table, only)
        rows = table.read_statuses([status_key(svc) for svc in names])
        return {svc: ledger.current_occupancy(rows[status_key(svc)]) for svc in names}
    finally:
        table.close()


def rebuild_summaries(settings: Settings, only: str | None = None) -> dict[str, dict[str, int]]:
    """Every summary of each service recomputed from its event rows (the rows are the truth),
    with the same ledger the pipeline runs; committed on each row's version like any update."""
    table = EventTable(settings)
    limits = ledger.Limits(horizon=settings.ledger_horizon_hours)
    now = datetime.now(UTC)
    try:
        if only is None:
            keys = (k for k, _ in table.all_rows() if is_event_key(k))
            names = sorted({decode_event_key(k)[0] for k in keys})
        else:
            names = [only]
        out: dict[str, dict[str, int]] = {}
        for svc in names:
            for summary in (ledger.OCCUPANCY, ledger.HOURLY, ledger.DAILY):
                state = ledger.rebuild(table, summary, svc, now, limits).occupancy()
            out[svc] = {
                "occupancy": state.value,
                "anomalies": state.anomalies,
                "events": state.events,
            }
        return out
    finally:
        table.close()


@dataclass(frozen=True, slots=True)
class Analytics:
    """The stored events (of one service), the core's analytics over them, and the daily peaks
    the fan-out's `daily_peak` function stored (none where it did not run)."""

    events: list[Event]
    summaries: dict[str, ServiceSummary]
    daily: dict[str, list[DailyPeak]]


def read_analytics(settings: Settings, only: str | None = None) -> Analytics:
    table = EventTable(settings)
    try:
        names = services(table, only)
        events = [e for svc in names for e in table.scan_events(svc)]
        daily = {svc: stored_daily_peaks(table, svc) for svc in names}
    finally:
        table.close()
    return Analytics(events, summarize(events), {s: p for s, p in daily.items() if p})


def stored_daily_peaks(table: EventTable, service: str) -> list[DailyPeak]:
    return list(ledger.read_daily(table.read_status(daily_key(service))).values())


def summary_json(summary: ServiceSummary, daily: list[DailyPeak] | None = None) -> dict[str, Any]:
    return {
        "daily_peaks": [
            {"day": _iso(p.day), "value": p.value, "at": _iso(p.at)} for p in daily or []
        ],
        "occupancy": summary.occupancy.value,
        "anomalies": summary.occupancy.anomalies,
        "events": summary.occupancy.events,
        "peak": {"value": summary.peak.value, "at": _iso(summary.peak.at)},
        "hourly": [
            {"hour": _iso(h.hour), "entries": h.entries, "exits": h.exits} for h in summary.hourly
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def list_dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter, listed without consuming it (and without creating anything)."""
    bus = PubSub(settings)
    try:
        return deadletters.pulled(bus)
    finally:
        bus.close()


def empty_table(settings: Settings) -> None:
    table = EventTable(settings)
    try:
        table.reset()
    finally:
        table.close()


def count_event_rows(table: EventTable, names: Iterable[str]) -> dict[str, int]:
    return {svc: sum(1 for _ in table.scan_events(svc)) for svc in names}


def status_report(settings: Settings) -> dict[str, Any]:
    """Counters of all processes, per-service summaries and dead letters by reason.

    `duplicates` is derived: deliveries of valid messages minus the unique events stored — every
    redelivery and publisher duplicate that the idempotent rows absorbed.
    """
    table = EventTable(settings)
    try:
        counters = table.read_counters()
        per_service: dict[str, dict[str, int]] = {}
        for svc in services(table, None):
            st = table.read_status(status_key(svc))
            occ = ledger.current_occupancy(st)
            per_service[svc] = {
                "occupancy": occ.value,
                "events": occ.events,
                "anomalies": occ.anomalies,
            }
    finally:
        table.close()
    reasons: dict[str, int] = {}
    for letter in list_dead_letters(settings):
        reasons[letter.reason] = reasons.get(letter.reason, 0) + 1
    unique = sum(s["events"] for s in per_service.values())
    return {
        "counters": counters,
        "unique_events": unique,
        "duplicates": max(0, counters.get("deliveries", 0) - unique),
        "anomalies": sum(s["anomalies"] for s in per_service.values()),
        "dead_letters": reasons,
        "services": per_service,
    }
