"""`nox -s bench`: core, emulator ceilings, each pipeline shape, the original (naive) design,
latency, and `reset --all` against an emulator restart.

Every figure comes from one run on one machine, so the ratios between them hold even when the
machine is noisy. Results go to stdout as a table and to `bench-results.json`.

    python bench/pipeline.py [--events N] [--latency-rate R] [--latency-seconds S] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ceilings, core, harness, naive  # noqa: E402
from etl.adapters.bigtable import EventTable  # noqa: E402
from etl.adapters.pubsub import PubSub  # noqa: E402
from etl.config import Settings  # noqa: E402
from etl.service.ledger import current_occupancy  # noqa: E402
from etl.service.simulation import Request, simulate_before  # noqa: E402
from etl_core import Simulation, event_key, is_event_key, status_key  # noqa: E402
from etl_harness import provision  # noqa: E402
from etl_harness.emulators import native  # noqa: E402
from etl_harness.emulators.hosts import Emulators  # noqa: E402
from etl_harness.local import from_env as local_from_env  # noqa: E402
from tests.e2e.faults import wait_settled  # noqa: E402


def core_rate(events: int) -> float:
    """parse → row key → incremental occupancy on one core, events per wall-clock second."""
    data, now = core.messages(events)
    wall, _cpu = core.best_rate(core.tracker_path, data, now)
    return round(wall)


def fresh_settings() -> Settings:
    return Settings(project=f"bench-{uuid.uuid4().hex[:8]}", stage="test")


def simulation(events: int, seed: int = 1) -> Simulation:
    return simulate_before(datetime.now(UTC), Request(limit=events, speed_factor=1e9, seed=seed))


@contextlib.contextmanager
def serving(settings: Settings, pipeline: str, processes: int = 1) -> Iterator[None]:
    """`etl serve` subprocesses (several workers share one subscription)."""
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": settings.project, "ETL_STAGE": settings.stage}
    procs = []
    try:
        for _ in range(processes):
            proc = subprocess.Popen(
                [sys.executable, "-m", "etl_harness", "serve", "--pipeline", pipeline],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            procs.append(proc)
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith(b"ready:"):
                    break
            threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def wait_folded(table: EventTable, sim: Simulation, timeout: float = 600) -> None:
    """Until every event is folded into its service's status.

    Reads only the status rows (one per service), so polling costs the pipeline almost nothing;
    the full check of the stored rows runs once, after the clock stops.
    """
    deadline = time.monotonic() + timeout
    expected = len(sim.events)
    while time.monotonic() < deadline:
        statuses = [table.read_status(status_key(svc)) for svc in sim.ground_truth]
        folded = sum(current_occupancy(st).events for st in statuses)
        if folded >= expected:
            return
        time.sleep(0.02)
    raise TimeoutError(f"not folded after {timeout}s")


def pipeline_rate(pipeline: str, events: int, processes: int = 1) -> float:
    """Events/s from the first publish to the last event stored with its occupancy settled."""
    settings = fresh_settings()
    sim = simulation(events)
    table, bus = EventTable(settings), PubSub(settings)
    try:
        with serving(settings, pipeline, processes):
            begin = time.perf_counter()
            bus.publish_events(settings.events_topic, sim.events)
            wait_folded(table, sim)
            elapsed = time.perf_counter() - begin
        wait_settled(table, sim.events, hourly=pipeline != "current", timeout=60)  # exact
        occupancy = {
            svc: current_occupancy(table.read_status(status_key(svc))).value
            for svc in sim.ground_truth
        }
        if occupancy != sim.ground_truth:
            raise AssertionError(f"{pipeline}: occupancy {occupancy} != truth {sim.ground_truth}")
    finally:
        table.close()
        bus.close()
    return events / elapsed


def naive_rate(events: int) -> float:
    """The original design as it stood: per event, write the row, read the count, write
    count + delta."""
    settings = fresh_settings()
    sim = simulation(events)
    provision.ensure(settings)
    table = EventTable(settings)
    try:
        return naive.rate(table, sim.events)
    finally:
        table.close()


def latency(rate: float, seconds: float, pipeline: str = "worker") -> dict[str, float]:
    """Publish → occupancy visible (the row's `writeTime`, stamped after the status commit)."""
    settings = fresh_settings()
    total = int(rate * seconds)
    sim = simulation(total, seed=2)
    table, bus = EventTable(settings), PubSub(settings)
    published: dict[bytes, datetime] = {}
    topic = bus.topic_path(settings.events_topic)
    try:
        with serving(settings, pipeline):
            begin = time.perf_counter()
            pending = []
            for i, event in enumerate(sim.events):
                delay = begin + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                published[event_key(event.service, event.event_time, event.event_id)] = (
                    datetime.now(UTC)
                )
                pending.append(
                    bus.publisher.publish(topic, event.to_json(), ordering_key=event.service)
                )
            for future in pending:
                future.result(timeout=60)
            wait_settled(table, sim.events, hourly=pipeline != "current", timeout=600)
        visible = {
            key: datetime.fromisoformat(cells["realTimeStatus"]["writeTime"].decode())
            for key, cells in table.all_rows()
            if "writeTime" in cells.get("realTimeStatus", {}) and is_event_key(key)
        }
    finally:
        table.close()
        bus.close()
    samples = sorted(
        (visible[key] - at).total_seconds() * 1000
        for key, at in published.items()
        if key in visible
    )
    cut = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": round(cut[49], 1),
        "p95": round(cut[94], 1),
        "p99": round(cut[98], 1),
        "n": len(samples),
    }


def timed(label: str, fn: Callable[[], Any]) -> Any:
    print(f"… {label}", file=sys.stderr, flush=True)
    return fn()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="events per worker run")
    parser.add_argument(
        "--function-events", type=int, default=600, help="events per current/fanout run"
    )
    parser.add_argument("--naive-events", type=int, default=500)
    parser.add_argument("--latency-rate", type=float, default=200.0, help="offered events/s")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts for scaling")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results.json")
    args = parser.parse_args()

    with emulators_for_bench():
        results: dict[str, Any] = {
            "core_events_per_s": timed("core", lambda: core_rate(50_000)),
            "pubsub_streaming_pull_msgs_per_s": timed(
                "pubsub streaming pull", lambda: ceilings.pubsub_streaming(2_000)
            ),
            "pubsub_ceiling_msgs_per_s": timed(
                "pubsub sync pull", lambda: ceilings.pubsub_sync_pull(20_000)
            ),
            "bigtable_ceiling_rows_per_s": timed(
                "bigtable ceiling", lambda: ceilings.bigtable_rows(20_000)
            ),
            "pipeline_events_per_s": {
                shape: timed(
                    shape,
                    lambda s=shape: pipeline_rate(
                        s, args.events if s == "worker" else args.function_events
                    ),
                )
                for shape in ("current", "fanout", "worker")
            },
        }
        results["worker_scaling"] = {
            n: timed(f"worker x{n}", lambda n=n: pipeline_rate("worker", args.events, int(n)))
            for n in args.workers.split(",")
        }
        results["naive_events_per_s"] = timed("naive", lambda: naive_rate(args.naive_events))
        results["latency_ms"] = timed(
            "latency", lambda: latency(args.latency_rate, args.latency_seconds)
        )
    results["harness_ms"] = timed("reset vs restart", harness.measure)
    results["events"] = args.events
    results["function_events"] = args.function_events
    results["latency_offered_rate"] = args.latency_rate
    results["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "emulators": native.versions(native.find_bin_dir(os.environ.get("ETL_EMULATORS_BIN"))),
    }
    args.out.write_text(json.dumps(results, indent=2))
    print_table(results)


@contextlib.contextmanager
def emulators_for_bench() -> Iterator[None]:
    """The configured emulators, else a private pair; their hosts are this script's environment,
    which the `etl serve` processes it starts inherit."""
    with Emulators(local_from_env(os.environ), reuse_recorded=False) as running:
        os.environ.update(running.env())
        yield


def print_table(r: dict[str, Any]) -> None:
    slower = min(r["pubsub_ceiling_msgs_per_s"], r["bigtable_ceiling_rows_per_s"])
    best = max(r["pipeline_events_per_s"].values())
    rows = [
        ("core parse→key→fold (1 core)", r["core_events_per_s"], ""),
        ("Pub/Sub publish + sync pull/ack ceiling", r["pubsub_ceiling_msgs_per_s"], ""),
        ("Pub/Sub publish + streaming pull/ack", r["pubsub_streaming_pull_msgs_per_s"], "pstest"),
        ("Bigtable MutateRows ceiling", r["bigtable_ceiling_rows_per_s"], ""),
        *(
            (f"pipeline {k}", v, f"{v / slower:.0%} of slower ceiling")
            for k, v in r["pipeline_events_per_s"].items()
        ),
        *((f"worker x{k}", v, "") for k, v in r["worker_scaling"].items()),
        (
            "naive (the original design's per-event design)",
            r["naive_events_per_s"],
            f"best pipeline {best / r['naive_events_per_s']:.1f}x",
        ),
    ]
    print(f"{'measure':42} {'events/s':>12}  note")
    for name, value, note in rows:
        print(f"{name:42} {value:12,.0f}  {note}")
    h = r["harness_ms"]
    print(
        f"clean seeded state: reset --all {h['reset_all_ms']} ms, emulator restart "
        f"{h['restart_ms']} ms ({h['restart_ms'] / h['reset_all_ms']:.1f}x)"
    )
    lat = r["latency_ms"]
    print(
        f"latency publish→visible at {r['latency_offered_rate']:.0f}/s: "
        f"p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms"
    )


if __name__ == "__main__":
    main()
