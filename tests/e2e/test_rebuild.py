"""`etl rebuild`: every summary recomputed from the event rows equals what the pipeline kept."""

from __future__ import annotations

import json
import os

from etl.service import ledger
from etl_core import daily_key, hourly_key, status_key
from tests.e2e.cli import etl
from tests.e2e.faults import Rig, shuffled, simulation


def summaries(rig: Rig, services: list[str]) -> dict[str, object]:
    """What the rows show: occupancy, hourly counts and daily peaks of every service."""
    read = rig.table.read_status
    return {
        svc: (
            ledger.current_occupancy(read(status_key(svc))),
            ledger.read_hourly(read(hourly_key(svc))),
            ledger.read_daily(read(daily_key(svc))),
        )
        for svc in services
    }


def test_rebuilding_from_the_event_rows_gives_what_the_fanout_kept_incrementally(rig: Rig) -> None:
    sim = simulation(limit=200, seed=71)
    with rig.served("fanout"):
        rig.bus.publish_events(rig.settings.events_topic, shuffled(sim.events, seed=71))
        rig.wait_settled(sim.events, hourly=True)
    services = sorted(sim.ground_truth)
    kept = summaries(rig, services)

    env = {
        **os.environ,
        "GOOGLE_CLOUD_PROJECT": rig.settings.project,
        "ETL_STAGE": rig.settings.stage,
    }
    result = etl("rebuild", "--json", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rebuilt = json.loads(result.stdout)
    assert {svc: r["occupancy"] for svc, r in rebuilt.items()} == sim.ground_truth
    assert summaries(rig, services) == kept
    rig.assert_exact(sim.events, hourly=True)
