"""Micro-benchmark of the core's hot path on one core: bytes -> event -> row key -> occupancy.

    python bench/core.py [--events N] [--json] [--variants]

Reports events/s, best of 3 runs, by wall clock (time.perf_counter) and per CPU second
(time.process_time, which a busy shared machine disturbs less), for two paths over batches of
1,000: `ledger`, each batch merged into its services' `HourLedger`s as the worker's summaries are
(`etl.service.ledger`, without the Bigtable reads and writes), and `fold`, every event folded
once at the end. The target is 100k events/s.
`stdlib` is `etl_core` as shipped: a message in the usual shape is read by one regular
expression, anything else by the standard library's JSON decoder and the field checks.
`--variants` also times the general path alone (`general`), and with its JSON decoding swapped
for orjson / msgspec (if installed): the measurement behind keeping `etl_core` on the standard
library.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import etl_core.events
from etl_core import Event, event_key, fold, parse_event, simulate
from etl_core.errors import InvalidEvent, Reason
from etl_core.hour_ledger import HourLedger

TARGET = 100_000
BATCH = 1_000
"""Messages per batch on both paths: a Pub/Sub pull or publish batch."""
START = datetime(2024, 5, 6, tzinfo=UTC)


def messages(count: int) -> tuple[list[bytes], datetime]:
    """`count` simulated messages (wire bytes) and a `now` just after the last one."""
    sim = simulate(seed=7, start=START, limit=count)
    return [e.to_json() for e in sim.events], sim.events[-1].event_time


def ledger_path(data: Sequence[bytes], now: datetime) -> object:
    """Like the worker: parse a batch, build its row keys, merge each service's events into its
    hour ledger and read the occupancy its summary row shows."""
    ledgers: dict[str, HourLedger] = {}
    for i in range(0, len(data), BATCH):
        by_service: dict[str, list[Event]] = {}
        for raw in data[i : i + BATCH]:
            event = parse_event(raw, now=now)
            event_key(event.service, event.event_time, event.event_id)
            by_service.setdefault(event.service, []).append(event)
        for service, events in by_service.items():
            ledger = ledgers.setdefault(service, HourLedger())
            ledger.merge(events, peaks=False)
            ledger.occupancy()
    return {service: ledgers[service].occupancy() for service in sorted(ledgers)}


def fold_path(data: Sequence[bytes], now: datetime) -> object:
    """Like a pull worker: parse a batch, build its row keys, and fold everything at the end."""
    events: list[Event] = []
    for i in range(0, len(data), BATCH):
        batch = [parse_event(raw, now=now) for raw in data[i : i + BATCH]]
        for event in batch:
            event_key(event.service, event.event_time, event.event_id)
        events += batch
    return fold(events)


def best_rate(
    path: Callable[[Sequence[bytes], datetime], object], data: list[bytes], now: datetime
) -> tuple[float, float]:
    """Best of 3 runs: events per wall-clock second, and per CPU second of this process.

    On a shared machine the two differ; CPU time shows what one core does when it is ours.
    """
    wall = cpu = float("inf")
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        path(data, now)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return len(data) / wall, len(data) / cpu


def loaders() -> dict[str, Callable[[str], Any] | None]:
    """JSON decoders to compare on the general path; None is the standard library's."""
    found: dict[str, Callable[[str], Any] | None] = {"general": None}
    try:
        import orjson

        found["orjson"] = orjson.loads
    except ImportError:
        pass
    try:
        import msgspec

        found["msgspec"] = msgspec.json.Decoder().decode
    except ImportError:
        pass
    return found


@contextmanager
def general_path(decode: Callable[[str], Any] | None) -> Iterator[None]:
    """Temporarily parse every message on the general path (no fast path for the canonical
    shape), decoding its JSON with `decode` (None: the standard library's); same checks."""

    def load(text: str) -> dict[str, Any]:
        try:
            body = decode(text) if decode is not None else json.loads(text)
        except ValueError as err:
            raise InvalidEvent(Reason.NOT_JSON, str(err)) from None
        if not isinstance(body, dict):
            raise InvalidEvent(Reason.NOT_OBJECT, type(body).__name__)
        return body

    originals = etl_core.events._load, etl_core.events._parse_canonical
    etl_core.events._load = load if decode is not None else originals[0]
    etl_core.events._parse_canonical = lambda text, now, message_id: None
    try:
        yield
    finally:
        etl_core.events._load, etl_core.events._parse_canonical = originals


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="messages per run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--variants", action="store_true", help="also time the general path, orjson, msgspec"
    )
    args = parser.parse_args(argv)
    data, now = messages(args.events)
    results: dict[str, tuple[float, float]] = {
        "stdlib/ledger": best_rate(ledger_path, data, now),
        "stdlib/fold": best_rate(fold_path, data, now),
    }
    for name, decode in loaders().items() if args.variants else ():
        with general_path(decode):
            results[f"{name}/ledger"] = best_rate(ledger_path, data, now)
            results[f"{name}/fold"] = best_rate(fold_path, data, now)
    report = {
        "events": len(data),
        "python": platform.python_version(),
        "target_events_per_s": TARGET,
        "events_per_s": {k: round(wall) for k, (wall, _) in results.items()},
        "events_per_cpu_s": {k: round(cpu) for k, (_, cpu) in results.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{len(data)} events, Python {report['python']}, best of 3, one core")
        print(f"  {'path':16s} {'events/s':>10s} {'per CPU s':>10s}  target {TARGET:,}/s")
        for name, (wall, cpu) in results.items():
            verdict = "meets" if wall >= TARGET else "misses"
            print(f"  {name:16s} {wall:>10,.0f} {cpu:>10,.0f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
