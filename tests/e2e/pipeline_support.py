"""Waiting for the table to settle after a pipeline ran (`faults.served` runs `etl serve`)."""

from __future__ import annotations

import time

from etl.adapters.bigtable import EventTable
from etl.service import ledger
from etl_core import Simulation, event_key, is_event_key, status_key


def expected_keys(sim: Simulation) -> set[bytes]:
    return {event_key(e.service, e.event_time, e.event_id) for e in sim.events}


def wait_settled(table: EventTable, sim: Simulation, timeout: float = 120) -> set[bytes]:
    """Event row keys once every event is stored and no occupancy update is pending."""
    want = expected_keys(sim)
    deadline = time.monotonic() + timeout
    keys: set[bytes] = set()
    while time.monotonic() < deadline:
        keys = {k for k, _ in table.all_rows() if is_event_key(k)}
        pending = any(
            q.startswith(ledger.DIRTY)
            for svc in sim.ground_truth
            for q in table.read_status(status_key(svc)).cells
        )
        if keys >= want and not pending:
            return keys
        time.sleep(0.2)
    raise AssertionError(
        f"not settled after {timeout}s: {len(keys & want)}/{len(want)} rows stored"
    )
