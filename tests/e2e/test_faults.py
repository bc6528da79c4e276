"""Fault tolerance: nothing lost, nothing double counted.

Every test ends with the same check: stored occupancy per service equals the core's batch fold over
the unique events, and every unique event has exactly one row.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from etl import commands, worker
from etl.bigtable import EventTable
from etl.config import Settings
from etl.pubsub import Outgoing, PubSub
from etl.simulation import Request, simulate_before
from etl_core import Event, Simulation, fold, is_event_key
from tests.e2e.pipeline_support import serving, wait_settled


def world(events: list[Event]) -> Simulation:
    """The expected final state of a stream: its unique events and their batch fold."""
    unique = tuple({(e.service, e.event_id): e for e in events}.values())
    return Simulation(events=unique, ground_truth={s: o.value for s, o in fold(unique).items()})


def simulated(limit: int, seed: int) -> list[Event]:
    return list(simulate_before(datetime.now(UTC), Request(limit, 1e9, seed)).events)


def assert_exact(settings: Settings, table: EventTable, expected: Simulation) -> None:
    stored = wait_settled(table, expected, timeout=180)
    assert len(stored) == len(expected.events), "each unique event is stored exactly once"
    occupancy = {svc: o.value for svc, o in commands.occupancy(settings).items()}
    assert occupancy == expected.ground_truth


@pytest.mark.parametrize("pipeline", ["current", "worker"])
def test_publisher_duplicates_shuffled_order_and_late_events_change_nothing(
    pipeline: str, settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    events = simulated(300, seed=21)
    rng = random.Random(21)
    late = [replace(e, event_id=f"late-{e.event_id}") for e in rng.sample(events, 15)]
    late = [replace(e, event_time=e.event_time - timedelta(hours=6)) for e in late]
    duplicates = rng.sample(events, 60) * 2  # 120 extra copies: same eventId, new message ids
    stream = events + late + duplicates
    rng.shuffle(stream)  # exits before their entries, late events hours behind the rest
    with serving(settings, pipeline, tmp_path):
        bus.publish_events(settings.events_topic, stream)
        assert_exact(settings, table, world(events + late))
    status = commands.status(settings)
    assert status["duplicates"] >= 120


def test_push_redelivery_after_the_function_wrote_is_absorbed(
    settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    """A proxy forwards every push to the real function, then answers 500 the first time."""
    seen: set[str] = set()
    lock = threading.Lock()

    class ForwardThenFail(BaseHTTPRequestHandler):
        target = ""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            forward = urllib.request.Request(
                self.target, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(forward, timeout=30) as answer:
                status = answer.status
            message_id = json.loads(body)["message"]["messageId"]
            with lock:
                first = message_id not in seen
                seen.add(message_id)
            self.send_response(500 if first else status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    proxy = ThreadingHTTPServer((settings.functions_host, 0), ForwardThenFail)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    events = simulated(120, seed=22)
    try:
        with serving(settings, "current", tmp_path) as served:
            ForwardThenFail.target = served.urls()["pubsub_receiver"]
            bus.ensure_subscription(
                settings.subscription("pubsub-receiver"),
                settings.events_topic,
                push_endpoint=f"http://localhost:{proxy.server_port}/proxy",
            )
            bus.publish_events(settings.events_topic, events)
            assert_exact(settings, table, world(events))
            deadline = time.monotonic() + 60
            while len(seen) < len(events) and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert len(seen) == len(events), "every message was delivered at least twice"
    assert table.read_counters()["deliveries"] >= 2 * len(events)


def test_worker_redelivery_after_writes_before_ack_is_absorbed(
    settings: Settings, table: EventTable, bus: PubSub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process worker whose first batches fail after `handle_batch` wrote everything."""
    from etl import runtime

    real = worker.handle_batch
    failures = {"left": 3}

    def process_then_fail(pipe: object, messages: list[object]) -> object:
        outcome = real(pipe, messages)  # type: ignore[arg-type]
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("crashed after writing, before acking")
        return outcome

    monkeypatch.setattr(worker, "handle_batch", process_then_fail)
    events = simulated(400, seed=23)
    stop, ready = threading.Event(), threading.Event()
    options = worker.WorkerOptions(batch_size=100)
    thread = threading.Thread(
        target=runtime.run_worker, args=(settings, stop, options, ready.set), daemon=True
    )
    thread.start()
    try:
        assert ready.wait(30)
        bus.publish_events(settings.events_topic, events)
        assert_exact(settings, table, world(events))
    finally:
        stop.set()
        thread.join(30)
    assert failures["left"] == 0
    assert table.read_counters()["retries"] > 0


def test_four_worker_processes_on_one_subscription_lose_no_update(
    settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    events = simulated(1500, seed=24)
    with (
        serving(settings, "worker", tmp_path, "--batch-size", "50"),
        serving(settings, "worker", tmp_path, "--batch-size", "50"),
        serving(settings, "worker", tmp_path, "--batch-size", "50"),
        serving(settings, "worker", tmp_path, "--batch-size", "50"),
    ):
        bus.publish_events(settings.events_topic, events)
        assert_exact(settings, table, world(events))


def test_a_worker_killed_mid_stream_and_restarted_loses_and_double_counts_nothing(
    settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    events = simulated(3000, seed=25)
    with serving(settings, "worker", tmp_path, "--batch-size", "100") as first:
        bus.publish_events(settings.events_topic, events)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stored = sum(1 for key, _ in table.all_rows() if is_event_key(key))
            if stored >= 300:
                break
            time.sleep(0.05)
        os.kill(first.proc.pid, signal.SIGKILL)  # mid-stream: some batches written, not acked
        first.proc.wait(10)
    assert stored < len(events), "the kill came before the stream was done"
    with serving(settings, "worker", tmp_path):
        assert_exact(settings, table, world(events))


BAD = {
    b"not json at all": "not_json",
    b"\xff\xfe\x00garbage": "not_utf8",
    b"[1, 2, 3]": "not_object",
    b'{"service": "gate", "event": 1, "eventId": "x1"}': "missing_field",
    b'{"service": "gate", "eventTime": "2026-11-28T08:00:00Z", "event": 2}': "bad_delta",
    b'{"service": "gate", "eventTime": "2026-11-28T08:00:00Z", "event": "1"}': "bad_delta",
    b'{"service": "gate", "eventTime": "2026-11-28T08:00:00", "event": 1}': "bad_time",
    b'{"service": "gate", "eventTime": "yesterday", "event": 1}': "bad_time",
    b'{"service": "gate", "eventTime": "2999-01-01T00:00:00Z", "event": 1}': "bad_time",
    b'{"service": "", "eventTime": "2026-11-28T08:00:00Z", "event": 1}': "bad_service",
    b'{"service": 7, "eventTime": "2026-11-28T08:00:00Z", "event": 1}': "bad_service",
    json.dumps({"service": "g" * 129, "eventTime": "2026-11-28T08:00:00Z", "event": 1}).encode(): (
        "bad_service"
    ),
    b'{"service": "gate", "eventTime": "2026-11-28T08:00:00Z", "event": 1, "pad": "'
    + b"x" * 70_000
    + b'"}': "too_large",
}


@pytest.mark.parametrize("pipeline", ["current", "fanout", "worker"])
def test_every_malformed_kind_is_dead_lettered_once_with_its_reason_and_original_bytes(
    pipeline: str, settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    events = simulated(80, seed=26)
    stream = [Outgoing(e.to_json(), e.service) for e in events] + [Outgoing(b) for b in BAD]
    random.Random(26).shuffle(stream)
    with serving(settings, pipeline, tmp_path):
        bus.publish(settings.events_topic, stream)
        assert_exact(settings, table, world(events))
        deadline = time.monotonic() + 60
        letters = commands.dead_letters(settings)
        while len(letters) < len(BAD) and time.monotonic() < deadline:
            time.sleep(0.5)
            letters = commands.dead_letters(settings)
    assert sorted((d.data, d.reason) for d in letters) == sorted(BAD.items())


def test_services_that_share_prefixes_or_use_the_key_delimiter_never_leak_into_each_other(
    settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    names = ("gate", "gate-north", "gate#south", "gate\\", "gate\\#", "puerta-ñ", "門")
    events = simulated(400, seed=27)
    tricky = [replace(e, service=names[i % len(names)]) for i, e in enumerate(events)]
    with serving(settings, "worker", tmp_path):
        bus.publish_events(settings.events_topic, tricky)
        assert_exact(settings, table, world(tricky))
