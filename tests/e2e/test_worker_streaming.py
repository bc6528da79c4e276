"""The worker's streaming pull batches what the stream brings, whatever the ordering keys.

The simulator publishes each event with its site as ordering key; the worker's subscription has no
message ordering. The client library's `subscribe()` would still hold each key's next message until
the previous one is acked (python-pubsub#1181), so a worker that acks after its batch got one
message per site per batch. The worker reads StreamingPull itself: a batch holds many messages of
one site.
"""

from __future__ import annotations

from typing import Any

from etl import wiring
from etl.entrypoints.pull_loop import Worker, WorkerOptions
from tests.e2e.faults import Rig, running, simulation

SITES = ("gate-north", "gate-south")


class Recording(Worker):
    """A worker that notes the size of every batch it handles."""

    sizes: list[int]

    def _handle(self, messages: list[Any]) -> bool:
        self.sizes.append(len(messages))
        return super()._handle(messages)


def test_a_streaming_batch_holds_many_messages_of_one_ordering_key(rig: Rig) -> None:
    sim = simulation(limit=400, seed=23, services=SITES)
    rt, table, bus = wiring.build(rig.settings)
    subscription = bus.ensure_subscription(
        rig.settings.subscription("worker"), rig.settings.events_topic
    )
    worker = Recording(rt, bus.subscriber, subscription, WorkerOptions(pull="streaming"))
    worker.sizes = []
    try:
        with running(worker.run):
            rig.bus.publish_events(rig.settings.events_topic, sim.events)  # ordering key = site
            rig.wait_settled(sim.events, hourly=True)
    finally:
        bus.close()
        table.close()
    assert max(worker.sizes) > 10 * len(SITES), f"batches {worker.sizes}: one message per site?"
    rig.assert_exact(sim.events, hourly=True)
