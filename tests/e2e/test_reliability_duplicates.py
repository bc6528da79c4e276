"""Publisher duplicates: the same `eventId` published 2-3 times as separate messages (new ids)."""

from __future__ import annotations

import pytest

from etl_harness.cli import commands
from tests.e2e.faults import SETTLE_S, Rig, publish_with_duplicates, simulation, wait_until


@pytest.mark.parametrize("pipeline", ["current", "fanout", "worker"])
def test_an_event_published_several_times_is_stored_once_and_counted_once(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=150, seed=31)
    with rig.served(pipeline):
        published, extra = publish_with_duplicates(
            rig.bus, rig.settings.events_topic, sim.events, seed=31
        )
        rig.wait_settled(sim.events, hourly=pipeline != "current")
        # Every copy is delivered and processed (then absorbed), not only the first one.
        wait_until(
            lambda: rig.table.read_counters().get("deliveries", 0) >= len(published),
            SETTLE_S,
            "every copy delivered",
        )

    assert extra >= len(sim.events) // 2
    rig.assert_exact(sim.events, hourly=pipeline != "current")
    assert commands.status_report(rig.settings)["duplicates"] >= extra
