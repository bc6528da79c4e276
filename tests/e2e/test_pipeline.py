"""The original design's system end to end: simulated events through each pipeline shape into
Bigtable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import Settings
from etl.service.ports import decode_int
from etl.service.simulation import Request, simulate_before
from etl_core import Simulation, daily_peaks, is_event_key, summarize
from etl_harness.cli import commands
from etl_harness.emulators.pair import Hosts
from tests.e2e.cli import etl
from tests.e2e.faults import SETTLE_S, Rig, served, wait_settled, wait_until

SHAPES = ("current", "fanout", "worker")


def simulation(limit: int, seed: int) -> Simulation:
    return simulate_before(datetime.now(UTC), Request(limit=limit, speed_factor=1e9, seed=seed))


def settled_through(pipeline: str, sim: Simulation, rig: Rig) -> None:
    """`sim`'s events published to `pipeline`, served for the block, until the table settled."""
    with rig.served(pipeline):
        rig.bus.publish_events(rig.settings.events_topic, sim.events)
        rig.wait_settled(sim.events, hourly=pipeline != "current")


@pytest.mark.parametrize("pipeline", SHAPES)
def test_every_shape_stores_each_event_once_and_converges_to_the_ground_truth(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=400, seed=11)
    settled_through(pipeline, sim, rig)

    settings, table = rig.settings, rig.table
    stored = [key for key, _ in table.all_rows() if is_event_key(key)]
    assert len(stored) == len(sim.events)
    occupancy = commands.read_occupancy(settings)
    assert {svc: occ.value for svc, occ in occupancy.items()} == sim.ground_truth
    assert all(occ.anomalies == 0 and occ.events > 0 for occ in occupancy.values())
    expected = summarize(sim.events)
    assert commands.read_analytics(settings).summaries == expected


@pytest.mark.parametrize("pipeline", SHAPES)
def test_every_event_row_carries_the_original_designs_cells(pipeline: str, rig: Rig) -> None:
    sim = simulation(limit=60, seed=3)
    settled_through(pipeline, sim, rig)
    table = rig.table
    rows = {key: cells for key, cells in table.all_rows() if is_event_key(key)}
    by_key = {e.service: e for e in sim.events}
    for cells in rows.values():
        assert set(cells["event"]) == {"service", "eventTime", "event"}
        assert cells["event"]["service"].decode() in by_key
        assert cells["event"]["event"] in (b"1", b"-1")
        assert decode_int(cells["realTimeStatus"]["currentOccupancy"]) >= 0
        assert cells["realTimeStatus"]["writeTime"].endswith(b"Z")
    status_rows = [cells for key, cells in table.all_rows() if not is_event_key(key)]
    assert status_rows
    assert all("event" not in cells for cells in status_rows)


@pytest.mark.parametrize("pipeline", SHAPES)
def test_malformed_messages_are_dead_lettered_with_reasons_while_valid_ones_are_processed(
    pipeline: str, settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    sim = simulation(limit=30, seed=5)
    bad = {
        b"not json": "not_json",
        b"\xff\xfe": "not_utf8",
        b"[1, 2]": "not_object",
        b'{"service": "gate", "event": 1}': "missing_field",
        b'{"service": "gate", "eventTime": "2026-01-01T00:00:00Z", "event": 2}': "bad_delta",
        b'{"service": "gate", "eventTime": "2026-01-01T00:00:00", "event": 1}': "bad_time",
    }
    with served(settings, pipeline, tmp_path):
        bus.publish(settings.events_topic, [Outgoing(data) for data in bad])
        bus.publish_events(settings.events_topic, sim.events)
        wait_settled(table, sim.events, hourly=pipeline != "current")
        wait_until(
            lambda: len(commands.list_dead_letters(settings)) >= len(bad),
            SETTLE_S,
            "the dead letters",
        )
        letters = commands.list_dead_letters(settings)
    assert {d.data: d.reason for d in letters} == bad
    assert {
        svc: o.value for svc, o in commands.read_occupancy(settings).items()
    } == sim.ground_truth


def test_a_failing_fanout_calculation_stops_neither_event_writes_nor_the_other_calculation(
    settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Broken(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    broken = ThreadingHTTPServer((settings.functions_host, 0), Broken)
    Thread(target=broken.serve_forever, daemon=True).start()
    sim = simulation(limit=120, seed=9)
    try:
        with served(settings, "fanout", tmp_path):
            bus.ensure_subscription(
                settings.subscription("hourly-counts"),
                settings.written_topic,
                push_endpoint=f"http://localhost:{broken.server_port}/broken",
            )
            bus.publish_events(settings.events_topic, sim.events)
            wait_settled(table, sim.events, hourly=False)
    finally:
        broken.shutdown()
        broken.server_close()
    assert {
        svc: o.value for svc, o in commands.read_occupancy(settings).items()
    } == sim.ground_truth
    hourly_rows = [k for k, cells in table.all_rows() if k.endswith(b"#~hourly")]
    assert hourly_rows == [], (
        "the broken calculation wrote nothing, and nothing else depended on it"
    )


def test_the_fanout_stores_each_days_peak_as_the_core_computes_it(
    settings: Settings, table: EventTable, bus: PubSub, tmp_path: Path, etl_emulator_hosts: Hosts
) -> None:
    sim = simulation(limit=400, seed=12)  # simulated days: several per service
    expected = daily_peaks(sim.events)
    assert any(len(peaks) > 1 for peaks in expected.values())
    with served(settings, "fanout", tmp_path):
        bus.publish_events(settings.events_topic, sim.events)
        wait_settled(table, sim.events, hourly=True)
        wait_until(
            lambda: commands.read_analytics(settings).daily == expected,
            SETTLE_S,
            "the daily_peak function to fold every event",
        )
    assert commands.read_analytics(settings).daily == expected
    project = {"GOOGLE_CLOUD_PROJECT": settings.project, "ETL_STAGE": "test"}
    shown = etl("analytics", "--json", env={**etl_emulator_hosts.env(), **project})
    assert shown.returncode == 0, shown.stderr
    assert {
        svc: [(p["day"], p["value"], p["at"]) for p in a["daily_peaks"]]
        for svc, a in json.loads(shown.stdout).items()
    } == {
        svc: [(_iso(p.day), p.value, _iso(p.at)) for p in peaks] for svc, peaks in expected.items()
    }, "`etl analytics --json` shows the stored daily peaks"


def _iso(moment: datetime) -> str:
    """A time as `etl --json` writes it (UTC, `Z`)."""
    return moment.isoformat().replace("+00:00", "Z")
