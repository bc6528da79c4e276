"""`etl demo`: the whole pipeline on a laptop, checked against the simulator's ground truth."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import PubSub
from etl.config import Settings
from etl.service import ledger
from etl.service.simulation import Request, simulate_before
from etl_core import Occupancy, Simulation, status_key
from etl_harness import serve
from etl_harness.cli import commands, output
from etl_harness.cli.views import analytics_table, occupancy_table
from etl_harness.local import Local


@dataclass
class DemoReport:
    """What the demo saw, and whether it matched the ground truth."""

    pipeline: str
    events: int
    seconds: float
    truth: dict[str, int]
    stored: dict[str, Occupancy] = field(default_factory=dict)
    """Each service's status as the pipeline left it: occupancy, anomalies, unique events."""
    rows: dict[str, int] = field(default_factory=dict)
    expected_rows: dict[str, int] = field(default_factory=dict)

    @property
    def occupancy(self) -> dict[str, int]:
        return {svc: occ.value for svc, occ in self.stored.items()}

    @property
    def ok(self) -> bool:
        return self.occupancy == self.truth and self.rows == self.expected_rows

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pipeline": self.pipeline,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events / self.seconds, 1) if self.seconds else None,
            "occupancy": self.occupancy,
            "groundTruth": self.truth,
        }


@contextlib.contextmanager
def running(local: Local, pipeline: str) -> Iterator[None]:
    """The pipeline shape served in this process for the block."""
    if pipeline != "worker":
        with serve.serving_functions(local, pipeline):
            yield
        return
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=serve.run_worker,
        args=(local, stop),
        kwargs={"on_ready": ready.set},
        daemon=True,
    )
    thread.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the worker did not start within 60 s")
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def run_demo(
    local: Local, *, events: int, pipeline: str, seed: int, timeout: float, as_json: bool = False
) -> DemoReport:
    """The pipeline on the configured emulators, over a project of its own, so the demo never
    mixes with data already in the emulators (`etl demo` starts emulators first if needed).
    Its tables go to stdout, or to stderr under `--json` (the report is the caller's to print)."""
    project = f"etl-demo-{uuid.uuid4().hex[:8]}"
    settings = replace(local.settings, project=project, stage="dev")
    demo_local = local.with_settings(settings)
    sim = simulate_before(datetime.now(UTC), Request(limit=events, speed_factor=1e9, seed=seed))
    with running(demo_local, pipeline):
        report = _drive(settings, pipeline, sim, timeout, as_json)
    _show(settings, report, output.tables(as_json))
    return report


def _drive(
    settings: Settings, pipeline: str, sim: Simulation, timeout: float, as_json: bool
) -> DemoReport:
    expected_rows = dict.fromkeys(sim.ground_truth, 0)
    for event in sim.events:
        expected_rows[event.service] += 1
    report = DemoReport(
        pipeline, len(sim.events), 0.0, dict(sim.ground_truth), expected_rows=expected_rows
    )
    table, bus = EventTable(settings), PubSub(settings)
    begin = time.monotonic()
    try:
        output.human.print(
            f"publishing {len(sim.events)} simulated events to {settings.events_topic}"
        )
        bus.publish_events(settings.events_topic, sim.events)
        with output.progress("draining", report.events, as_json) as advance:
            _wait_rows(table, report, timeout, begin, advance)
        report.stored = _wait_occupancy(table, report, timeout, begin)
        report.seconds = time.monotonic() - begin
    finally:
        table.close()
        bus.close()
    return report


def _wait_rows(
    table: EventTable,
    report: DemoReport,
    timeout: float,
    begin: float,
    advance: Callable[[int], None],
) -> None:
    stored = 0
    while time.monotonic() - begin < timeout:
        report.rows = commands.count_event_rows(table, report.truth)
        advance(sum(report.rows.values()) - stored)
        stored = sum(report.rows.values())
        if report.rows == report.expected_rows:
            return
        time.sleep(0.25)


def _wait_occupancy(
    table: EventTable, report: DemoReport, timeout: float, begin: float
) -> dict[str, Occupancy]:
    """Each status row's occupancy, once it has folded every event (or time is up)."""
    seen: dict[str, Occupancy] = {}
    while True:
        statuses = {svc: table.read_status(status_key(svc)) for svc in report.truth}
        seen = {svc: ledger.current_occupancy(st) for svc, st in statuses.items()}
        folded = all(seen[svc].events >= n for svc, n in report.expected_rows.items())
        if folded or time.monotonic() - begin >= timeout:
            return seen
        time.sleep(0.1)


def _show(settings: Settings, report: DemoReport, out: Console) -> None:
    out.print(occupancy_table(report.stored, truth=report.truth))
    out.print(analytics_table(commands.read_analytics(settings).summaries))
    rate = report.events / report.seconds if report.seconds else 0.0
    verdict = "[green]OK[/green]" if report.ok else "[red]MISMATCH[/red]"
    out.print(
        f"{verdict}: pipeline {report.pipeline}, {report.events} events in {report.seconds:.1f}s "
        f"({rate:.0f} events/s), rows {sum(report.rows.values())}/{report.events}, "
        f"project {settings.project}"
    )
