"""Reordering: shuffled publishing (exits before their entries) and events hours late.

The first wave leaves out every event of the morning rush; it is published shuffled, so exits
arrive before the entries they follow. After it settled (with anomalies: exits at zero), the
morning arrives hours late and shuffled too. The ledger must refold from the right checkpoint:
the final state is the fold of all events, with no anomaly left.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from etl.service import ledger
from etl_core import fold, status_key
from tests.e2e.faults import Rig, shuffled, simulation


@pytest.mark.parametrize("pipeline", ["current", "fanout", "worker"])
def test_shuffled_and_hours_late_events_converge_to_the_fold_of_all_events(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=240, seed=41)
    late = [e for e in sim.events if 7 <= e.event_time.hour < 10]
    early = [e for e in sim.events if e not in set(late)]
    assert late
    assert max(e.event_time for e in early) - max(e.event_time for e in late) >= timedelta(hours=2)

    with rig.served(pipeline):
        rig.bus.publish_events(rig.settings.events_topic, shuffled(early, seed=1))
        rig.wait_settled(early, hourly=pipeline != "current")
        first = {
            svc: ledger.current_occupancy(rig.table.read_status(status_key(svc)))
            for svc in sim.ground_truth
        }
        rig.bus.publish_events(rig.settings.events_topic, shuffled(late, seed=2))
        rig.wait_settled(sim.events, hourly=pipeline != "current")

    assert first == fold(early)
    assert sum(o.anomalies for o in first.values()) > 0, "exits arrived without their entries"
    rig.assert_exact(sim.events, hourly=pipeline != "current")
    assert {s: o.value for s, o in fold(sim.events).items()} == sim.ground_truth
    assert all(o.anomalies == 0 for o in fold(sim.events).values())
