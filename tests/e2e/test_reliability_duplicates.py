"""Publisher duplicates: the same `eventId` published 2-3 times as separate messages (new ids)."""

from __future__ import annotations

import pytest

from etl_harness.cli import commands
from tests.e2e.faults import (
    SETTLE_S,
    Rig,
    assert_exact,
    publish_with_duplicates,
    served,
    simulation,
    wait_settled,
    wait_until,
)


@pytest.mark.parametrize("pipeline", ["current", "fanout", "worker"])
def test_an_event_published_several_times_is_stored_once_and_counted_once(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=150, seed=31)
    with served(rig.settings, pipeline, rig.logs):
        published, extra = publish_with_duplicates(
            rig.bus, rig.settings.events_topic, sim.events, seed=31
        )
        wait_settled(rig.table, sim.events, hourly=pipeline != "current")
        # Every copy is delivered and processed (then absorbed), not only the first one.
        wait_until(
            lambda: rig.table.read_counters().get("deliveries", 0) >= len(published),
            SETTLE_S,
            "every copy delivered",
        )

    assert extra >= len(sim.events) // 2
    assert_exact(rig.settings, rig.table, sim.events, hourly=pipeline != "current")
    assert commands.status_report(rig.settings)["duplicates"] >= extra
