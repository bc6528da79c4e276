"""`nox -s bench`: core, emulator ceilings, each pipeline shape, the original (naive) design,
latency, `reset --all` against an emulator restart, and our emulators beside Google's
(`bench/side_by_side.py`; skipped, with the reason, where no Cloud SDK holds Google's).

Every figure comes from one run on one machine, so the ratios between them hold even when the
machine is noisy. Results go to stdout as a table and to `bench-results.json`.

Each shape runs in a project of its own holding only the subscriptions that shape consumes (and
the dead-letter reader): etl.toml subscribes three consumers to the events topic, and a backlog on
a subscription nobody reads costs the emulator CPU all run long (pstest walks every backlog every
10 ms). Each project is deleted after its run. Function shapes run with 1 and 2 processes behind
each push endpoint (`etl serve --processes`); `rows_read_per_event` is the table's `rows_read`
counter (event rows the ledger read back) over the events of the run.

    python bench/pipeline.py [--events N] [--function-events N] [--latency-rate R]
        [--latency-seconds S] [--latency-warmup S] [--latency-1000-seconds S] [--workers 1,2,4]
        [--side-by-side-messages N] [--side-by-side-soak M] [--out FILE]
    python bench/pipeline.py --only-shapes current,fanout   # those shapes and naive alone
    python bench/pipeline.py --only-latency                 # the two latency runs alone (~1 min)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ceilings, core, harness, naive, side_by_side  # noqa: E402
from etl.adapters.bigtable import EventTable  # noqa: E402
from etl.adapters.pubsub import PubSub  # noqa: E402
from etl.config import Settings, from_env  # noqa: E402
from etl.service.ledger import current_occupancy, read_hourly  # noqa: E402
from etl.service.simulation import Request, simulate_before  # noqa: E402
from etl_core import Event, Simulation, event_key, hourly_key, is_event_key, status_key  # noqa: E402
from etl_harness import provision  # noqa: E402
from etl_harness.emulators import native as emulators  # noqa: E402
from etl_harness.emulators.hosts import Emulators  # noqa: E402
from etl_harness.local import from_env as local_from_env  # noqa: E402
from etl_harness.serve import triggers  # noqa: E402
from etl_harness.settling import wait_settled  # noqa: E402

T = TypeVar("T")


def core_rate(events: int) -> float:
    """parse → row key → hour-ledger merge on one core, events per wall-clock second."""
    data, now = core.messages(events)
    wall, _cpu = core.best_rate(core.ledger_path, data, now)
    return round(wall)


def fresh_settings() -> Settings:
    """A project of its own on the bench's emulators."""
    return replace(from_env(os.environ), project=f"bench-{uuid.uuid4().hex[:8]}", stage="test")


def simulation(events: int, seed: int = 1) -> Simulation:
    return simulate_before(datetime.now(UTC), Request(limit=events, speed_factor=1e9, seed=seed))


@contextlib.contextmanager
def serving(
    settings: Settings, pipeline: str, processes: int = 1, pull: str = "batch"
) -> Iterator[subprocess.Popen[bytes]]:
    """`etl serve --processes N` in a subprocess, ready, in a project holding only the shape's own
    subscriptions; stopped (SIGTERM: every process flushes its counters) after the block. `pull`:
    the worker's `--pull` (batch: synchronous Pull; streaming: the production client's default)."""
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": settings.project, "ETL_STAGE": settings.stage}
    command = ["serve", "--pipeline", pipeline, "--processes", str(processes), "--pull", pull]
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl_harness", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        tail: list[bytes] = []
        for line in proc.stderr:
            if line.startswith(b"ready:"):
                break
            tail = [*tail[-20:], line]
        else:
            raise RuntimeError(f"etl serve {pipeline} never became ready:\n{b''.join(tail)!r}")
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        only_own_subscriptions(settings, pipeline)
        yield proc
    finally:
        proc.terminate()
        proc.wait(60)


def own_subscriptions(settings: Settings, pipeline: str) -> set[str]:
    """The subscriptions a shape consumes, and the dead-letter reader (it holds dead letters)."""
    resources = provision.load().resources(settings.stage, settings.project, settings.instance)
    names = (
        {settings.subscription("worker")}
        if pipeline == "worker"
        else {s.name for s in triggers(resources, pipeline)}
    )
    dead_letters = settings.dead_letter_topic
    return names | {s.name for s in resources.subscriptions if s.topic == dead_letters}


def only_own_subscriptions(settings: Settings, pipeline: str) -> None:
    """Delete the subscriptions of the project that the shape does not consume (`etl serve` made
    every one etl.toml lists), so nothing builds a backlog during the run."""
    keep = own_subscriptions(settings, pipeline)
    with provision.clients(settings) as c:
        project = f"projects/{settings.project}"
        for sub in c.subscriber.list_subscriptions(request={"project": project}):
            if sub.name.rsplit("/", 1)[1] not in keep:
                c.subscriber.delete_subscription(subscription=sub.name)


def discard(settings: Settings) -> None:
    """Delete every subscription, topic and table of a bench project: the emulators hold nothing
    of one run during the next."""
    with provision.clients(settings) as c:
        project = f"projects/{settings.project}"
        for sub in c.subscriber.list_subscriptions(request={"project": project}):
            c.subscriber.delete_subscription(subscription=sub.name)
        for topic in c.publisher.list_topics(request={"project": project}):
            c.publisher.delete_topic(topic=topic.name)
        for table in c.bigtable.instance(settings.instance).list_tables():
            table.delete()


def wait_folded(table: EventTable, sim: Simulation, *, hourly: bool, timeout: float = 600) -> None:
    """Until every event is folded into its service's occupancy (and hourly counts, for the
    shapes that keep them).

    Reads only the summary rows (one or two per service), so polling costs the pipeline almost
    nothing; the full check of the stored rows runs once, after the clock stops.
    """
    deadline = time.monotonic() + timeout
    expected = len(sim.events)
    while time.monotonic() < deadline:
        statuses = table.read_statuses([status_key(svc) for svc in sim.ground_truth])
        folded = sum(current_occupancy(st).events for st in statuses.values())
        if folded >= expected and (not hourly or hourly_total(table, sim) >= expected):
            return
        time.sleep(0.02)
    raise TimeoutError(f"not folded after {timeout}s")


def hourly_total(table: EventTable, sim: Simulation) -> int:
    """Entries plus exits over every stored hour: each event counts once, in its hour."""
    rows = table.read_statuses([hourly_key(svc) for svc in sim.ground_truth])
    return sum(c.entries + c.exits for row in rows.values() for c in read_hourly(row).values())


@dataclass(frozen=True, slots=True)
class Run:
    """One shape over one simulation: events/s, event rows read back per event, and the CPU
    seconds per 1,000 events of `etl serve` (every process of it), and of each process the run
    used (`cpu_by_process`: `process 1` is `etl serve` itself, `process 2`… its instances, then
    the emulators and the bench's own publisher)."""

    events_per_s: float
    rows_read_per_event: float
    cpu_s_per_1000: float | None = None
    cpu_by_process: Mapping[str, float] = field(default_factory=dict)


EMULATOR_HOSTS = {
    "pubsub emulator": "PUBSUB_EMULATOR_HOST",
    "bigtable emulator": "BIGTABLE_EMULATOR_HOST",
}


def run_processes(proc: subprocess.Popen[bytes]) -> dict[str, psutil.Process]:
    """The processes a run uses, by name: `etl serve` and its instances, the emulators (found by
    the port each listens on; absent when they are not local processes) and this one."""
    root = psutil.Process(proc.pid)
    named = {f"process {i}": p for i, p in enumerate([root, *root.children(recursive=True)], 1)}
    ports = {
        int(os.environ[var].rsplit(":", 1)[1]): name
        for name, var in EMULATOR_HOSTS.items()
        if os.environ.get(var)
    }
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid and conn.laddr.port in ports:
            named[ports[conn.laddr.port]] = psutil.Process(conn.pid)
    return {**named, "bench (publisher)": psutil.Process()}


def cpu_times(processes: Mapping[str, psutil.Process]) -> dict[str, float]:
    """User + system CPU seconds of each process so far (0 for one that has ended)."""
    spent = {}
    for name, p in processes.items():
        try:
            times = p.cpu_times()
            spent[name] = times.user + times.system
        except psutil.NoSuchProcess:
            spent[name] = 0.0
    return spent


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU seconds of a process and every process under it, so far."""
    root = psutil.Process(proc.pid)
    return sum(cpu_times({str(p.pid): p for p in [root, *root.children(recursive=True)]}).values())


def pipeline_rate(
    pipeline: str, events: int, processes: int = 1, *, shuffle: bool = False, pull: str = "batch"
) -> Run:
    """Events/s from the first publish until every event is stored and folded into every summary
    the shape keeps (checked exact against the simulation afterwards). `shuffle`: published in
    a random order (delivery order is never event order, in production either)."""
    settings = fresh_settings()
    sim = simulation(events)
    order: Sequence[Event] = sim.events
    if shuffle:
        order = random.Random(5).sample(sim.events, len(sim.events))
    with opened(settings) as (table, bus):
        with serving(settings, pipeline, processes, pull) as proc:
            processes_used = run_processes(proc)
            cpu_before = cpu_times(processes_used)
            begin = time.perf_counter()
            bus.publish_events(settings.events_topic, order)
            wait_folded(table, sim, hourly=pipeline != "current")
            elapsed = time.perf_counter() - begin
            cpu_after = cpu_times(processes_used)
            wait_settled(table, sim.events, hourly=pipeline != "current", timeout=60)  # exact
        occupancy = {
            svc: current_occupancy(table.read_status(status_key(svc))).value
            for svc in sim.ground_truth
        }
        if occupancy != sim.ground_truth:
            raise AssertionError(f"{pipeline}: occupancy {occupancy} != {sim.ground_truth}")
        read = rows_read(table)
    per_1000 = {
        name: round((cpu_after[name] - cpu_before[name]) / events * 1000, 2) for name in cpu_after
    }
    serve = sum(v for name, v in per_1000.items() if name.startswith("process "))
    return Run(round(events / elapsed, 1), round(read / events, 2), round(serve, 2), per_1000)


def sustained(events: int) -> dict[str, Any]:
    """One streaming worker over `events` events (3 sites, published in time order; delivered in
    no order), as `etl serve --pipeline worker --pull streaming` with `etl simulate`: events/s in
    each tenth of the run, from the `deliveries` counter polled every 0.25 s (processes flush it
    about once a second; a tenth's bounds are interpolated between polls; redeliveries count, as
    the work they are), until every event is folded; and the summary
    rows' bytes read per batch (the worker's `summary_bytes_read` and `batches` counters)."""
    settings = fresh_settings()
    sim = simulation(events, seed=3)
    with opened(settings) as (table, bus):
        with serving(settings, "worker", pull="streaming") as proc:
            begin = time.perf_counter()
            # Published beside the polls: polled only after publishing, the first tenths were one
            # interpolation over the whole publish (a quarter of a 240,000-event run).
            publisher = threading.Thread(
                target=bus.publish_events, args=(settings.events_topic, sim.events), daemon=True
            )
            publisher.start()
            samples, check_at = [(0.0, 0)], 0.0
            while samples[-1][0] < 3600:
                time.sleep(0.25)
                samples.append(
                    (time.perf_counter() - begin, table.read_counters().get("deliveries", 0))
                )
                if samples[-1][1] >= events and samples[-1][0] >= check_at:
                    if _folded(table, sim):
                        break
                    check_at = samples[-1][0] + 5  # the summary rows are large: not every poll
            else:
                raise TimeoutError(f"{samples[-1][1]} deliveries of {events} events after an hour")
            publisher.join()
            cpu = cpu_seconds(proc)
        counters = table.read_counters()  # flushed by every process as it stopped
    tenth = events / 10
    bounds = [_crossing(samples, tenth * k) for k in range(11)]
    return {
        "events": events,
        "by_tenth": [round(tenth / (b - a), 1) for a, b in itertools.pairwise(bounds)],
        "summary_bytes_read_per_batch": round(
            counters.get("summary_bytes_read", 0) / max(1, counters.get("batches", 0))
        ),
        "batches": counters.get("batches", 0),
        "redeliveries": counters.get("deliveries", 0) - events,
        "cpu_s_per_1000": round(cpu / events * 1000, 2),
    }


def _folded(table: EventTable, sim: Simulation) -> bool:
    """Every event in its service's occupancy."""
    statuses = table.read_statuses([status_key(svc) for svc in sim.ground_truth])
    return sum(current_occupancy(st).events for st in statuses.values()) >= len(sim.events)


def _crossing(samples: Sequence[tuple[float, int]], count: float) -> float:
    """When the counter reached `count`, interpolated between the two polls around it."""
    for (t0, n0), (t1, n1) in itertools.pairwise(samples):
        if n1 >= count:
            return t0 if n1 == n0 else t0 + (t1 - t0) * (count - n0) / (n1 - n0)
    return samples[-1][0]


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[tuple[EventTable, PubSub]]:
    """The table and bus of a bench project for the block; then the project is discarded."""
    table, bus = EventTable(settings), PubSub(settings)
    try:
        yield table, bus
    finally:
        table.close()
        bus.close()
        discard(settings)


def rows_read(table: EventTable) -> int:
    """The `rows_read` counter: event rows the ledger read back, over every process (each flushes
    its counts when it stops)."""
    return table.read_counters().get("rows_read", 0)


def naive_rate(events: int) -> float:
    """The original design as it stood: per event, write the row, read the count, write
    count + delta."""
    settings = fresh_settings()
    sim = simulation(events)
    provision.ensure(settings)
    with opened(settings) as (table, _):
        return naive.rate(table, sim.events)


def latency(
    rate: float, seconds: float, warmup: float, pipeline: str = "worker"
) -> tuple[dict[str, Any], Run]:
    """Publish → occupancy visible (the row's `writeTime`, stamped after the status commit), one
    message at a time at `rate` events/s for `warmup` then `seconds`; and the run's figures.

    The quantiles are of the `seconds` after the warm-up (cold gRPC channels, each summary row's
    first read, threads starting); the warm-up's own p99 is reported beside them."""
    settings = fresh_settings()
    skipped = int(rate * warmup)
    total = skipped + int(rate * seconds)
    sim = simulation(total, seed=2)
    with opened(settings) as (table, bus):
        with serving(settings, pipeline), collector_paused():
            begin = time.perf_counter()
            published = paced_publish(bus, settings.events_topic, sim.events, rate)
            wait_folded(table, sim, hourly=pipeline != "current")
            elapsed = time.perf_counter() - begin
            wait_settled(table, sim.events, hourly=pipeline != "current", timeout=600)
        visible = visible_times(table)
        read = rows_read(table)
    everything = [  # publish order: how the tail moves over the run
        (visible[key] - at).total_seconds() * 1000
        for key, at in published.items()
        if key in visible
    ]
    warm, in_order = everything[:skipped], everything[skipped:]
    cut = statistics.quantiles(in_order, n=100, method="inclusive")
    third = max(1, len(in_order) // 3)
    quantiles = {
        "p50": round(cut[49], 1),
        "p95": round(cut[94], 1),
        "p99": round(cut[98], 1),
        "n": len(in_order),
        "p99_by_third": [
            round(statistics.quantiles(part, n=100, method="inclusive")[98], 1)
            for part in (in_order[:third], in_order[third : 2 * third], in_order[2 * third :])
            if len(part) > 1
        ],
        "warmup_s": warmup,
        "warmup_p99": (
            round(statistics.quantiles(warm, n=100, method="inclusive")[98], 1)
            if len(warm) > 1
            else None
        ),
    }
    return quantiles, Run(round(total / elapsed, 1), round(read / total, 2))


def latency_runs(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Run]]:
    """Latency at the offered rate, then at 1,000 events/s: `latency_ms` and `latency_ms_1000`,
    and each run's figures."""
    results: dict[str, Any] = {}
    runs: dict[str, Run] = {}
    results["latency_ms"], runs["worker paced"] = timed(
        f"latency at {args.latency_rate:.0f}/s",
        lambda: latency(args.latency_rate, args.latency_seconds, args.latency_warmup),
    )
    results["latency_ms_1000"], runs["worker paced 1000/s"] = timed(
        "latency at 1000/s",
        lambda: latency(1000.0, args.latency_1000_seconds, args.latency_warmup),
    )
    return results, runs


def paced_publish(
    bus: PubSub,
    topic: str,
    events: Sequence[Event],
    rate: float,
    sent: Callable[[int, Future[str]], None] = lambda _i, _f: None,
) -> dict[bytes, datetime]:
    """Publish `events` one call at a time at `rate` a second (the site as ordering key, as the
    simulator does) and wait for every publish; when each was handed to the publisher, by event
    row key. `sent(i, future)` sees each call's future (e.g. to time its acknowledgement)."""
    path = bus.topic_path(topic)
    published: dict[bytes, datetime] = {}
    pending = []
    begin = time.perf_counter()
    for i, event in enumerate(events):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        published[event_key(event.service, event.event_time, event.event_id)] = datetime.now(UTC)
        future = bus.publisher.publish(path, event.to_json(), ordering_key=event.service)
        sent(i, future)
        pending.append(future)
    for future in pending:
        future.result(timeout=60)
    return published


def visible_times(table: EventTable) -> dict[bytes, datetime]:
    """When each event's occupancy became visible: its row's `writeTime`, by row key."""
    return {
        key: datetime.fromisoformat(cells["realTimeStatus"]["writeTime"].decode())
        for key, cells in table.all_rows()
        if "writeTime" in cells.get("realTimeStatus", {}) and is_event_key(key)
    }


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The bench's own cycle collector off while it publishes and times: a full collection of its
    heap (the simulation, a future per message) took 135-270 ms at 1,000 events/s, a pause in which
    no message left the publisher, so the latency measured the bench rather than the pipeline."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed(label: str, fn: Callable[[], T]) -> T:
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
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument(
        "--latency-warmup",
        type=float,
        default=5.0,
        help="seconds at the offered rate before latency is measured (its p99 reported apart)",
    )
    parser.add_argument(
        "--latency-1000-seconds", type=float, default=10.0, help="seconds at 1,000 events/s"
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts for scaling")
    parser.add_argument(
        "--sustained-events",
        type=int,
        default=60_000,
        help="events of the long streaming worker run (its rate per tenth; 0 skips it)",
    )
    parser.add_argument(
        "--only-sustained", action="store_true", help="run the long worker run alone"
    )
    parser.add_argument(
        "--only-latency",
        action="store_true",
        help="run the two latency runs alone (the offered rate, then 1,000 events/s)",
    )
    parser.add_argument(
        "--only-shapes",
        type=shapes_list,
        default=None,
        help="run these pipeline shapes (comma-separated: current,fanout,worker) and naive alone",
    )
    parser.add_argument(
        "--ledger-horizon-hours",
        type=int,
        default=None,
        help="ETL_LEDGER_HORIZON_HOURS for the pipeline (default: the pipeline's own, 2); a "
        "horizon covering the simulation's span shows the shapes without late-event reads",
    )
    parser.add_argument(
        "--side-by-side-messages",
        type=int,
        default=side_by_side.MESSAGES,
        help="messages per measure of ours against Google's emulators",
    )
    parser.add_argument(
        "--side-by-side-soak",
        type=int,
        default=side_by_side.SOAK,
        help="messages in the memory soak of ours against Google's emulators",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results.json")
    args = parser.parse_args()
    if args.ledger_horizon_hours is not None:  # read by every `etl serve` the bench starts
        os.environ["ETL_LEDGER_HORIZON_HOURS"] = str(args.ledger_horizon_hours)

    results: dict[str, Any] = {}
    if args.only_shapes:
        with emulators_for_bench():
            results = only_shapes(args.only_shapes, args)
        args.out.write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        return
    if args.only_latency:
        with emulators_for_bench():
            results, paced = latency_runs(args)
        results["rows_read_per_event"] = {k: run.rows_read_per_event for k, run in paced.items()}
        results["load_average"] = os.getloadavg()
        args.out.write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        return
    if args.only_sustained:
        with emulators_for_bench():
            results["worker_sustained"] = timed(
                "worker sustained", lambda: sustained(args.sustained_events)
            )
        results.update(_sustained_keys(results["worker_sustained"]))
        args.out.write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        return
    with emulators_for_bench():
        if args.sustained_events:
            results["worker_sustained"] = timed(
                "worker sustained", lambda: sustained(args.sustained_events)
            )
            results.update(_sustained_keys(results["worker_sustained"]))
        results["core_events_per_s"] = timed("core", lambda: core_rate(50_000))
        results["pubsub_streaming_pull_msgs_per_s"] = round(
            timed("pubsub streaming pull", lambda: ceilings.pubsub_streaming(2_000))
        )
        results["pubsub_ceiling_msgs_per_s"] = round(
            timed("pubsub sync pull", lambda: ceilings.pubsub_sync_pull(20_000))
        )
        data_api = timed("bigtable data API", lambda: ceilings.bigtable_data_api_rows(20_000))
        legacy = timed("bigtable legacy", lambda: ceilings.bigtable_legacy_rows(20_000))
        results["bigtable_data_api_rows_per_s"] = round(data_api)
        results["bigtable_legacy_rows_per_s"] = round(legacy)
        results["bigtable_ceiling_rows_per_s"] = round(max(data_api, legacy))
        runs = shape_runs(SHAPES, args)
        results["naive_events_per_s"] = round(timed("naive", lambda: naive_rate(args.naive_events)))
        latencies, paced = latency_runs(args)
        results.update(latencies)
        runs.update(paced)
    rates = {label: run.events_per_s for label, run in runs.items()}
    results["pipeline_events_per_s"] = {
        "current": rates["current x1"],
        "fanout": rates["fanout x1"],
        "worker": rates["worker"],
    }
    results.update(function_keys(runs, PUSH_SHAPES))
    results["worker_shuffled_events_per_s"] = rates["worker shuffled"]
    results["worker_streaming_pull_events_per_s"] = rates["worker streaming"]
    results["worker_scaling"] = {
        n: rates["worker" if n == "1" else f"worker x{n}"] for n in args.workers.split(",")
    }
    results["rows_read_per_event"] = {label: run.rows_read_per_event for label, run in runs.items()}
    results.update(cpu_keys(runs))
    results["harness_ms"] = timed("reset vs restart", harness.measure)
    results["emulators_side_by_side"] = timed(
        "ours and Google's emulators side by side",
        lambda: side_by_side.for_bench(
            local_from_env(os.environ),
            side_by_side.Sizes(args.side_by_side_messages, args.side_by_side_soak),
        ),
    )
    results["events"] = args.events
    results["function_events"] = args.function_events
    results["latency_offered_rate"] = args.latency_rate
    results["ledger_horizon_hours"] = from_env(os.environ).ledger_horizon_hours
    results["latency_seconds"] = {
        "offered": args.latency_seconds,
        "1000": args.latency_1000_seconds,
    }
    results["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "emulators": emulators.versions(
            emulators.find_bin_dir(os.environ.get("ETL_EMULATORS_BIN"))
        ),
    }
    args.out.write_text(json.dumps(results, indent=2))
    print_table(results)
    side_by_side.print_table(results["emulators_side_by_side"])


PUSH_SHAPES = ("current", "fanout")
SHAPES = (*PUSH_SHAPES, "worker")


def shapes_list(text: str) -> tuple[str, ...]:
    """`--only-shapes`: known shapes, comma-separated."""
    shapes = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not shapes:
        raise argparse.ArgumentTypeError(f"shapes are {', '.join(SHAPES)}; got {text!r}")
    return shapes


def shape_runs(shapes: Sequence[str], args: argparse.Namespace) -> dict[str, Run]:
    """Each push shape with 1 and 2 function processes; the worker in every mode and process
    count `args` asks for."""
    runs: dict[str, Run] = {}
    for shape in (s for s in PUSH_SHAPES if s in shapes):
        for n in (1, 2):
            runs[f"{shape} x{n}"] = timed(
                f"{shape} x{n}", partial(pipeline_rate, shape, args.function_events, n)
            )
    if "worker" not in shapes:
        return runs
    runs["worker"] = timed("worker", lambda: pipeline_rate("worker", args.events))
    runs["worker streaming"] = timed(
        "worker streaming", lambda: pipeline_rate("worker", args.events, pull="streaming")
    )
    runs["worker shuffled"] = timed(
        "worker shuffled", lambda: pipeline_rate("worker", args.events, shuffle=True)
    )
    for n in args.workers.split(","):
        if n != "1":
            runs[f"worker x{n}"] = timed(
                f"worker x{n}", partial(pipeline_rate, "worker", args.events, int(n))
            )
    return runs


def only_shapes(shapes: Sequence[str], args: argparse.Namespace) -> dict[str, Any]:
    """`--only-shapes`: those shapes' runs and the naive baseline, with the ratios to it."""
    runs = shape_runs(shapes, args)
    naive = round(timed("naive", lambda: naive_rate(args.naive_events)))
    return {
        "naive_events_per_s": naive,
        "events_per_s": {label: run.events_per_s for label, run in runs.items()},
        "over_naive": {label: round(run.events_per_s / naive, 2) for label, run in runs.items()},
        **function_keys(runs, [s for s in PUSH_SHAPES if s in shapes]),
        "rows_read_per_event": {label: run.rows_read_per_event for label, run in runs.items()},
        **cpu_keys(runs),
        "events": args.events,
        "function_events": args.function_events,
        "load_average": os.getloadavg(),
    }


def function_keys(runs: Mapping[str, Run], shapes: Sequence[str]) -> dict[str, Any]:
    """`function_processes_events_per_s`: each push shape's rate with 1 and 2 processes."""
    return {
        "function_processes_events_per_s": {
            shape: {n: runs[f"{shape} x{n}"].events_per_s for n in ("1", "2")} for shape in shapes
        }
    }


def cpu_keys(runs: Mapping[str, Run]) -> dict[str, Any]:
    """CPU seconds per 1,000 events: `etl serve` whole, and each process of each run."""
    return {
        "cpu_s_per_1000_events": {label: run.cpu_s_per_1000 for label, run in runs.items()},
        "cpu_s_per_1000_events_by_process": {
            label: dict(run.cpu_by_process) for label, run in runs.items() if run.cpu_by_process
        },
    }


def _sustained_keys(run: dict[str, Any]) -> dict[str, Any]:
    """The long run's figures under the keys the targets name."""
    by_tenth = run["by_tenth"]
    return {
        "worker_sustained_events_per_s_by_tenth": by_tenth,
        "worker_sustained_last_over_first": round(by_tenth[-1] / by_tenth[0], 2),
        "summary_bytes_read_per_batch": run["summary_bytes_read_per_batch"],
    }


@contextlib.contextmanager
def emulators_for_bench() -> Iterator[None]:
    """The emulators the environment names (`*_EMULATOR_HOST`), else a private native pair for
    the run (never a pair recorded by `etl emulators up`: someone else may be using it); their
    host variables exported to this process and the ones it starts."""
    local = local_from_env(os.environ)
    with Emulators(local, "auto", reuse_recorded=False) as running:
        os.environ.update(running.env())
        yield


def print_table(r: dict[str, Any]) -> None:
    slower = min(r["pubsub_ceiling_msgs_per_s"], r["bigtable_ceiling_rows_per_s"])
    naive_rate = r["naive_events_per_s"]
    best = max(r["pipeline_events_per_s"].values())
    worker = r["pipeline_events_per_s"]["worker"]
    reads = r["rows_read_per_event"]

    def shape(label: str, rate: float, key: str) -> tuple[str, float, str]:
        return (
            label,
            rate,
            f"{rate / slower:.1%} of slower ceiling, {rate / naive_rate:.1f}x naive, "
            f"{reads[key]} rows read/event",
        )

    rows = [
        ("core parse→key→ledger (1 core)", r["core_events_per_s"], ""),
        ("Pub/Sub publish + sync pull/ack ceiling", r["pubsub_ceiling_msgs_per_s"], ""),
        (
            "Pub/Sub publish + streaming pull/ack",
            r["pubsub_streaming_pull_msgs_per_s"],
            f"{r['pubsub_streaming_pull_msgs_per_s'] / r['pubsub_ceiling_msgs_per_s']:.0%} "
            "of sync pull",
        ),
        ("Bigtable MutateRows, data API", r["bigtable_data_api_rows_per_s"], "rows/s"),
        ("Bigtable MutateRows, legacy DirectRow", r["bigtable_legacy_rows_per_s"], "rows/s"),
        *(
            shape(f"pipeline {name} x{n}", rate, f"{name} x{n}")
            for name, by_n in r["function_processes_events_per_s"].items()
            for n, rate in by_n.items()
        ),
        shape("pipeline worker (batch pull)", worker, "worker"),
        shape(
            "worker, streaming pull", r["worker_streaming_pull_events_per_s"], "worker streaming"
        ),
        shape("worker, fully shuffled", r["worker_shuffled_events_per_s"], "worker shuffled"),
        *(
            shape(f"worker x{n}", v, "worker" if n == "1" else f"worker x{n}")
            for n, v in r["worker_scaling"].items()
        ),
        ("naive (the original design, per event)", naive_rate, f"best {best / naive_rate:.1f}x"),
    ]
    print(f"ledger horizon {r['ledger_horizon_hours']} h; rows read/event: event rows read back")
    print(f"{'measure':42} {'per s':>10}  note")
    for name, value, note in rows:
        print(f"{name:42} {value:10,.0f}  {note}")
    h = r["harness_ms"]
    print(
        f"clean seeded state: reset --all {h['reset_all_ms']} ms, emulator restart "
        f"{h['restart_ms']} ms ({h['restart_ms'] / h['reset_all_ms']:.1f}x)"
    )
    for offered, lat, key in (
        (r["latency_offered_rate"], r["latency_ms"], "worker paced"),
        (1000.0, r["latency_ms_1000"], "worker paced 1000/s"),
    ):
        print(
            f"latency publish→visible at {offered:.0f}/s (worker, {lat['n']} events): "
            f"p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms "
            f"(p99 by third of the run: {lat['p99_by_third']}; after a {lat['warmup_s']:g} s "
            f"warm-up whose p99 was {lat['warmup_p99']} ms); {reads[key]} rows read/event"
        )


if __name__ == "__main__":
    main()
