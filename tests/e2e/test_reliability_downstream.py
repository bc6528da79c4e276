"""Downstream failure: Bigtable unavailable for a while under a running worker.

The worker reaches the Bigtable emulator through a TCP proxy that cuts every connection and
refuses new ones during the outage. Nothing may be acked unprocessed (lost) or processed twice
into the counts, and the worker must wait rather than spin: connection attempts and failed
batches during the outage are bounded.
"""

from __future__ import annotations

import time

from tests.e2e.faults import SETTLE_S, Rig, TcpProxy, simulation, wait_until

BATCH_FAILED = "batch failed; nacked for redelivery"


def test_a_bigtable_outage_delays_the_worker_without_losing_double_counting_or_spinning(
    rig: Rig, etl_emulator_hosts: object
) -> None:
    sim = simulation(limit=600, seed=71)
    proxy = TcpProxy(rig.settings.bigtable_emulator_host or "")
    try:
        with rig.served(
            "worker",
            "--batch-size",
            "100",
            BIGTABLE_EMULATOR_HOST=proxy.address,
        ) as worker:
            proxy.down()
            began = time.monotonic()
            rig.bus.publish_events(rig.settings.events_topic, sim.events)
            wait_until(lambda: proxy.refused >= 3, SETTLE_S, "the worker retrying Bigtable")
            wait_until(lambda: time.monotonic() - began >= 8, 10, "an 8 s outage")
            attempts, failed = (
                proxy.refused,
                worker.log_count("batch failed; nacked for redelivery"),
            )
            outage = time.monotonic() - began
            proxy.up()
            rig.wait_settled(sim.events, hourly=True)
    finally:
        proxy.close()

    assert attempts <= 4 * outage, f"{attempts} connection attempts in {outage:.0f} s: a busy loop"
    assert failed <= 10, f"{failed} failed batches in {outage:.0f} s: a busy loop"
    rig.assert_exact(sim.events, hourly=True)
