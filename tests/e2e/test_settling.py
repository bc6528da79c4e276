"""What "settled" means: the wait before every final assertion covers messages still in flight.

The fan-out concurrency test once failed with every event row stored and no pending marker (the
ledger of that time marked rows dirty), yet one event unfolded: its republished message had not yet
reached `calculate_occupancy` / `hourly_counts` (push backoff after an error), so the old wait on
rows and markers returned. This test builds that state on purpose: after a settled first batch,
an event hours older than every other is published with one newer event, and the calculations'
copies of the old one are held until every row is stored and the newer one is folded. A wait
that returns then fails here; `wait_settled` waits for the fold itself.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

from etl.adapters.bigtable import EventTable
from etl.service import ledger
from etl_core import Event, event_key, hourly_key, is_event_key
from etl_core.analytics import hour_of
from tests.e2e.faults import (
    SETTLE_S,
    PushProxy,
    Rig,
    base_url,
    point_push,
    push_targets,
    simulation,
    wait_until,
)


class Holding(PushProxy):
    """Forwards every push request, but holds those carrying `held_id` until `release` is set."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.held_id: str | None = None
        self.release = threading.Event()

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        data = base64.b64decode(json.loads(body)["message"]["data"])
        if json.loads(data).get("eventId") == self.held_id:
            self.release.wait(SETTLE_S)
        super().handle(request, body)


def rows_stored_and_newest_folded(table: EventTable, events: list[Event], newest: Event) -> bool:
    """The old, incomplete notion of settled: every row stored, the latest update folded."""
    want = {event_key(e.service, e.event_time, e.event_id) for e in events}
    if not {k for k, _ in table.all_rows() if is_event_key(k)} >= want:
        return False
    hours = ledger.read_hourly(table.read_status(hourly_key(newest.service)))
    return hour_of(newest.event_time) in hours


def test_a_calculation_still_in_flight_after_every_row_is_stored_keeps_fanout_unsettled(
    rig: Rig,
) -> None:
    sim = simulation(limit=60, seed=64, services=("gate",))
    first, last = min(e.event_time for e in sim.events), max(e.event_time for e in sim.events)
    late = Event("gate", first - timedelta(hours=3), 1, "late-entry")
    newest = Event("gate", last + timedelta(minutes=1), -1, "newest-exit")
    everything = [*sim.events, late, newest]
    holds: dict[str, Holding] = {}
    with rig.served("fanout") as serve:
        for fn, subscription, topic in push_targets(rig.settings, "fanout"):
            if fn != "write_event":  # the calculations, fed by the `written` topic
                holds[fn] = Holding(base_url(serve, fn))
                point_push(rig.bus, rig.settings, subscription, topic, holds[fn].url)
        watcher = EventTable(rig.settings)
        try:
            rig.bus.publish_events(rig.settings.events_topic, sim.events)
            rig.wait_settled(sim.events, hourly=True)  # checkpoints exist now
            for hold in holds.values():
                hold.held_id = late.event_id
            rig.bus.publish_events(rig.settings.events_topic, [late, newest])
            wait_until(
                lambda: rows_stored_and_newest_folded(watcher, everything, newest),
                SETTLE_S,
                "every row stored and the newest event counted, the held messages aside",
            )
            for hold in holds.values():
                threading.Timer(1.0, hold.release.set).start()
            rig.wait_settled(everything, hourly=True)
            released = all(hold.release.is_set() for hold in holds.values())
        finally:
            for hold in holds.values():
                hold.release.set()
                hold.close()
            watcher.close()

    assert released, "settled only after the held calculations were delivered and folded"
    rig.assert_exact(everything, hourly=True)
