"""Crashes: `kill -9` at a chosen point of processing, restart, drain.

The process under test is `python -m tests.e2e.faults serve ...`: `etl serve` with a pause hook
(`ETL_FAULT_PAUSE`) that blocks every caller before the n-th call of one function and says so on
stderr; the test then SIGKILLs it there, so the crash point is exact, not timing luck.
"""

from __future__ import annotations

import pytest

from etl_core import event_key, is_event_key
from tests.e2e.faults import PAUSE_ENV, Rig, Served, assert_exact, served, simulation

PUSH_BACKOFF = pytest.mark.official_lacks(
    "push redelivery soon after the endpoint was down: against Google's Java emulator nothing "
    "reached the restarted push endpoint within the 120 s settle timeout (its push backoff; "
    "production backs off too, up to 600 s, so this holds our emulator's timing only)"
)

# Where each shape is killed, and why that point matters.
CRASH_POINTS = [
    # worker, mid-batch, nothing of the batch written yet: its messages must not have been acked
    ("worker", "etl.adapters.bigtable:EventTable.write_events:3"),
    # worker, after the batch's rows and occupancy refresh, before hourly counts and the acks
    ("worker", "etl.service.handlers:update_hourly:3"),
    # after the event row was written, before its occupancy was updated
    pytest.param("current", "etl.service.handlers:update_occupancy:20", marks=PUSH_BACKOFF),
    # fan-out: after write_event stored the row, before it announced it on the written topic
    pytest.param("fanout", "etl.adapters.pubsub:PubSub.publish_events:20", marks=PUSH_BACKOFF),
]


@pytest.mark.parametrize(("pipeline", "point"), CRASH_POINTS)
def test_a_process_killed_mid_processing_and_restarted_loses_and_double_counts_nothing(
    pipeline: str, point: str, rig: Rig
) -> None:
    sim = simulation(limit=300, seed=51)
    settings = rig.settings
    if pipeline == "worker":  # unacked messages come back 3 s after the crash, not 60 s
        rig.bus.ensure_subscription(
            settings.subscription("worker"), settings.events_topic, ack_deadline_s=3
        )
    args = ("--batch-size", "50") if pipeline == "worker" else ()
    crashing = Served(
        settings,
        pipeline,
        rig.logs,
        args,
        {PAUSE_ENV: point},
        "-crashed",
        module="tests.e2e.faults",
    ).start()
    try:
        rig.bus.publish_events(settings.events_topic, sim.events)
        assert crashing.paused.wait(60), "the crash point was never reached"
        stored = {k for k, _ in rig.table.all_rows() if is_event_key(k)}
        crashing.kill()
    finally:
        crashing.stop()
    assert 0 < len(stored) < len(sim.events), "killed after some writes, before the end"

    with served(settings, pipeline, rig.logs, *args, name="-restarted"):
        rig.wait_settled(sim.events, hourly=pipeline != "current")

    assert stored <= {event_key(e.service, e.event_time, e.event_id) for e in sim.events}
    assert_exact(settings, rig.table, sim.events, hourly=pipeline != "current")
