"""Where the publish → visible tail comes from: the bench's latency run (`bench/pipeline.py
latency`), each event followed through its stages.

    python bench/latency_trace.py [--rate 200] [--seconds 30] [--warmup 5] [--json]
        [--unfrozen] [--bench-collector]

The worker (`etl.entrypoints.worker.run`, batch pull, as `etl serve --pipeline worker`) runs in a
process of its own that also records, to a file: every pull (when it was sent, when it returned,
the message ids it brought), every batch's steps (event rows, the occupancy commit with its
snapshots, the hourly commit, the ack), and every cycle collection (`gc.callbacks`: generation,
pause). This process publishes as the bench does, noting when each publish call was made and when
the server acknowledged it. Joined by message id, each event's latency splits into: publish call →
server acknowledgement (the bench's publisher), → the pull that brought it returned (waiting for a
pull: the worker busy with earlier batches, or a pull that waited), → visible (its batch).

`--unfrozen` and `--bench-collector` undo the two collector fixes (the worker's frozen start-up
heap, the bench's paused collector) to show what each cost; the emulator's (a Pull that answers
when messages arrive) is undone by pointing `ETL_EMULATORS_BIN` at an older build.

Printed: the quantiles by third of the run, as the bench reports them; for the slowest 1 % of
events, each stage's median; the pulls that lasted over 100 ms; the worker's collections by
generation; and the slowest batches with their steps. Same emulators as the bench (a private
native pair unless `*_EMULATOR_HOST` name some).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import pipeline as bench  # noqa: E402
from etl import config  # noqa: E402
from etl_core import event_key  # noqa: E402
from etl_harness import provision  # noqa: E402

SLOW_PULL_MS = 100
bench_collections: list[dict[str, float]] = []
"""This process's collections during the last `run`."""


class Trace:
    """The worker's records, one JSON object a line (written from the pull loop's thread, the
    collector's callbacks and the client's threads alike)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        with self._lock:
            self._file.write(json.dumps({"kind": kind, **fields}) + "\n")


def traced_worker(trace_path: Path, *, unfrozen: bool) -> None:
    """`--worker`: the worker's entry point with its pulls, batch steps and collections traced,
    until SIGTERM. `unfrozen`: without `start_up_heap_frozen` (the collector walks everything)."""
    from etl.entrypoints import pull_loop, worker
    from etl.service import handlers

    if unfrozen:
        worker.start_up_heap_frozen = contextlib.nullcontext

    trace = Trace(trace_path)
    steps: dict[str, float] = {}
    for name in ("store", "update_occupancy", "update_hourly"):
        setattr(handlers, name, _timed(getattr(handlers, name), name, steps))
    handle_batch = pull_loop.handle_batch

    def batch(rt: Any, messages: Sequence[Any]) -> Any:
        steps.clear()
        begin = time.time()
        try:
            return handle_batch(rt, messages)
        finally:
            trace.write("batch", at=begin, n=len(messages), steps=dict(steps))

    pull_loop.handle_batch = batch
    init = pull_loop.Worker.__init__

    def traced_init(self: Any, rt: Any, subscriber: Any, *args: Any, **kwargs: Any) -> None:
        init(self, rt, _TracedSubscriber(subscriber, trace), *args, **kwargs)

    pull_loop.Worker.__init__ = traced_init  # type: ignore[method-assign]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gc.callbacks.append(collections(partial(trace.write, "gc")))
    worker.run(
        config.from_env(os.environ),
        stop,
        worker.WorkerOptions(pull="batch"),
        on_ready=lambda: print("ready", flush=True),
    )


def collections(record: Callable[..., None]) -> Callable[[str, dict[str, int]], None]:
    """A `gc.callbacks` entry passing each collection to `record(at=, gen=, ms=)`."""
    started = [0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        pause = round((time.perf_counter() - started[0]) * 1000, 2)
        record(at=time.time(), gen=info["generation"], ms=pause)

    return collected


def _timed(fn: Callable[..., Any], name: str, steps: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        begin = time.perf_counter()
        try:
            return fn(*args)
        finally:
            steps[name] = round((time.perf_counter() - begin) * 1000, 2)

    return timed


class _TracedSubscriber:
    """The worker's subscriber client, its pulls and acks recorded."""

    def __init__(self, inner: Any, trace: Trace) -> None:
        self._inner = inner
        self._trace = trace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        sent = time.time()
        response = self._inner.pull(*args, **kwargs)
        ids = [r.message.message_id for r in response.received_messages]
        self._trace.write("pull", sent=sent, returned=time.time(), ids=ids)
        return response

    def acknowledge(self, *args: Any, **kwargs: Any) -> Any:
        sent = time.time()
        try:
            return self._inner.acknowledge(*args, **kwargs)
        finally:
            self._trace.write("ack", sent=sent, ms=round((time.time() - sent) * 1000, 2))


def run(args: argparse.Namespace, trace_path: Path) -> list[dict[str, Any]]:
    """The bench's latency run against a traced worker; each event's stamps (publish call, server
    acknowledgement, message id, visible), in publish order."""
    rate = args.rate
    settings = bench.fresh_settings()
    sim = bench.simulation(int(rate * args.warmup) + int(rate * args.seconds), seed=2)
    acked: dict[int, tuple[float, str]] = {}
    bench_collections.clear()

    def sent(i: int, future: Future[str]) -> None:
        future.add_done_callback(lambda f: acked.__setitem__(i, (time.time(), f.result())))

    provision.ensure(settings)
    paused = contextlib.nullcontext() if args.bench_collector else bench.collector_paused()
    own = collections(lambda **c: bench_collections.append(c))
    gc.callbacks.append(own)
    with bench.opened(settings) as (table, bus), _worker(settings, trace_path, args.unfrozen):
        bench.only_own_subscriptions(settings, "worker")
        with paused:
            published = bench.paced_publish(bus, settings.events_topic, sim.events, rate, sent)
            bench.wait_folded(table, sim, hourly=True)
        visible = bench.visible_times(table)
    gc.callbacks.remove(own)
    events = []
    for i, event in enumerate(sim.events):
        key = event_key(event.service, event.event_time, event.event_id)
        done, message_id = acked[i]
        events.append(
            {
                "call": published[key].timestamp(),
                "acked": done,
                "id": message_id,
                "visible": visible[key].timestamp() if key in visible else None,
            }
        )
    return events


@contextlib.contextmanager
def _worker(settings: config.Settings, trace_path: Path, unfrozen: bool) -> Iterator[None]:
    """The traced worker in a process of its own on `settings`' project, ready; stopped (SIGTERM)
    after the block."""
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": settings.project, "ETL_STAGE": settings.stage}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(trace_path)] + ["--unfrozen"] * unfrozen,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the traced worker never became ready")
        yield
    finally:
        proc.terminate()
        proc.wait(60)


def stages(events: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Each event's latency and its stages in ms (publish call → server acknowledgement → the
    pull that brought it returned → visible), and that pull's own duration; in publish order."""
    pulled: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["kind"] == "pull":
            for message_id in r["ids"]:
                pulled.setdefault(message_id, r)  # the first delivery
    out = []
    for e in events:
        pull = pulled.get(e["id"])
        if e["visible"] is None or pull is None:
            continue
        out.append(
            {
                "latency": (e["visible"] - e["call"]) * 1000,
                "publish": (e["acked"] - e["call"]) * 1000,
                "to_pull": (pull["returned"] - e["acked"]) * 1000,
                "pull": (pull["returned"] - pull["sent"]) * 1000,
                "batch": (e["visible"] - pull["returned"]) * 1000,
            }
        )
    return out


def p99(values: Sequence[float]) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[98], 1)


def summary(
    split: list[dict[str, float]], records: list[dict[str, Any]], skipped: int
) -> dict[str, Any]:
    """The run's quantiles (after the warm-up) and where the slowest 1 % spent its time; `records`:
    the worker's and the bench's collections (`bench gc`), from the first publish until the last
    event was visible."""
    measured = split[skipped:]
    latencies = [s["latency"] for s in measured]
    third = len(measured) // 3
    cut = p99(latencies)
    slow = [s for s in measured if s["latency"] >= cut]
    pulls = [r for r in records if r["kind"] == "pull"]
    batches = sorted(
        (r for r in records if r["kind"] == "batch"), key=lambda r: -sum(r["steps"].values())
    )
    collections = [r for r in records if r["kind"] == "gc"]
    return {
        "n": len(measured),
        "p50": round(statistics.median(latencies), 1),
        "p99": cut,
        "p99_by_third": [p99(latencies[k * third : (k + 1) * third]) for k in range(3)],
        "slowest_1pct_median_ms": {
            stage: round(statistics.median(s[stage] for s in slow), 1)
            for stage in ("latency", "publish", "to_pull", "pull", "batch")
        },
        "publish_max_ms": round(max(s["publish"] for s in measured), 1),
        "pulls": len(pulls),
        "pulls_over_100ms": [
            {"ms": round((r["returned"] - r["sent"]) * 1000), "messages": len(r["ids"])}
            for r in pulls
            if (r["returned"] - r["sent"]) * 1000 > SLOW_PULL_MS
        ],
        "collections": {
            gen: sorted(round(r["ms"], 1) for r in collections if r["gen"] == gen)[-5:]
            for gen in (0, 1, 2)
        },
        "collections_count": {gen: sum(r["gen"] == gen for r in collections) for gen in (0, 1, 2)},
        "bench_gen2_ms": [r["ms"] for r in records if r["kind"] == "bench gc" and r["gen"] == 2],
        "ack_max_ms": max((r["ms"] for r in records if r["kind"] == "ack"), default=None),
        "slowest_batches": [{"messages": r["n"], **r["steps"]} for r in batches[:5]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="offered events/s")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    parser.add_argument(
        "--unfrozen",
        action="store_true",
        help="the worker without its start-up heap frozen (to see what the collector costs)",
    )
    parser.add_argument(
        "--bench-collector",
        action="store_true",
        help="the bench's own collector on while it publishes (to see what its pauses cost)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        traced_worker(args.worker, unfrozen=args.unfrozen)
        return
    with tempfile.TemporaryDirectory() as folder, bench.emulators_for_bench():
        trace_path = Path(folder) / "worker.jsonl"
        events = run(args, trace_path)
        records = [json.loads(line) for line in trace_path.read_text().splitlines()]
    skipped = int(args.rate * args.warmup)
    begin = events[0]["call"]
    end = max(e["visible"] or e["call"] for e in events)
    records += [{"kind": "bench gc", **c} for c in bench_collections]
    within = [r for r in records if begin <= r.get("at", r.get("sent", 0)) <= end]
    result = summary(stages(events, records), within, skipped)
    result["load_average"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
