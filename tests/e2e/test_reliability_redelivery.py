"""Redelivery: every message is delivered at least twice, after it was processed the first time.

Push shapes: a proxy in front of each function forwards the request (the function writes), then
answers 500 the first time per message id, so Pub/Sub redelivers. Worker: after processing, the
first delivery of each message is either nacked or its ack is dropped (redelivered when its ack
deadline expires). Occupancy, rows and hourly counts must still equal the core's fold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from etl import wiring
from etl.entrypoints.pull_loop import Worker, WorkerOptions
from tests.e2e.faults import (
    SETTLE_S,
    PushProxy,
    Rig,
    assert_exact,
    fail_first_after_forwarding,
    proxied,
    push_targets,
    running,
    simulation,
    wait_until,
)


@pytest.mark.parametrize("pipeline", ["current", "fanout"])
def test_push_shapes_count_each_event_once_when_every_message_is_redelivered_after_processing(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=120, seed=21)
    targets = push_targets(rig.settings, pipeline)
    with (
        rig.served(pipeline) as serve,
        proxied(rig.bus, rig.settings, serve, fail_first_after_forwarding, targets) as proxies,
    ):
        rig.bus.publish_events(rig.settings.events_topic, sim.events)
        rig.wait_settled(sim.events, hourly=pipeline == "fanout")
        for proxy in proxies.values():  # the last redeliveries may still be in flight
            wait_until(partial(redelivered, proxy), SETTLE_S, "every message redelivered")

    front = proxies[targets[0][0]]
    assert len(front.seen) == len(sim.events)
    assert front.forwarded >= 2 * len(sim.events), "each message was processed twice or more"
    assert front.answers[500] == len(sim.events)
    rig.assert_exact(sim.events, hourly=pipeline == "fanout")


def redelivered(proxy: PushProxy) -> bool:
    return min(proxy.seen.values(), default=0) >= 2


class RedeliveringSubscriber:
    """A SubscriberClient whose first ack of each message does not happen: half are nacked, half
    are silently dropped (redelivered when the ack deadline expires)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.deliveries: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()
        """Message id → how often the worker acked it (it acks only what it handled)."""
        self.message_of: dict[str, str] = {}
        self.nacked = 0
        self.dropped = 0

    def pull(self, request: Any, timeout: float) -> Any:
        response = self.inner.pull(request=request, timeout=timeout)
        self.record(response.received_messages)
        return response

    def streaming_pull(self, requests: Any) -> RecordedStream:
        return RecordedStream(self, self.inner.streaming_pull(requests=requests))

    def record(self, received_messages: Any) -> None:
        for received in received_messages:
            self.deliveries[received.message.message_id] += 1
            self.message_of[received.ack_id] = received.message.message_id

    def acknowledge(self, request: dict[str, Any]) -> None:
        self.processed.update(self.message_of[a] for a in request["ack_ids"])
        firsts = [a for a in request["ack_ids"] if self.deliveries[self.message_of[a]] == 1]
        nack = [a for i, a in enumerate(firsts) if i % 2 == 0]
        self.nacked += len(nack)
        self.dropped += len(firsts) - len(nack)
        if nack:
            self.inner.modify_ack_deadline(
                request={**request, "ack_ids": nack, "ack_deadline_seconds": 0}
            )
        rest = [a for a in request["ack_ids"] if a not in set(firsts)]
        if rest:
            self.inner.acknowledge(request={**request, "ack_ids": rest})

    def modify_ack_deadline(self, request: dict[str, Any]) -> None:
        self.inner.modify_ack_deadline(request=request)


class RecordedStream:
    """A StreamingPull call whose deliveries the subscriber records; cancellable like the call."""

    def __init__(self, subscriber: RedeliveringSubscriber, call: Any) -> None:
        self.subscriber = subscriber
        self.call = call

    def __iter__(self) -> Iterator[Any]:
        for response in self.call:
            self.subscriber.record(response.received_messages)
            yield response

    def cancel(self) -> None:
        self.call.cancel()


@pytest.mark.parametrize("pull", ["batch", "streaming"])
def test_the_worker_counts_each_event_once_when_every_message_is_nacked_or_expires_after_processing(
    pull: str, rig: Rig
) -> None:
    sim = simulation(limit=400, seed=22)
    settings = rig.settings
    rt, table, bus = wiring.build(settings)
    subscription = bus.ensure_subscription(
        settings.subscription("worker"), settings.events_topic, ack_deadline_s=2
    )
    subscriber = RedeliveringSubscriber(bus.subscriber)
    options = WorkerOptions(pull=pull, batch_size=50, ack_deadline_s=2)
    worker = Worker(rt, subscriber, subscription, options)
    try:
        with running(worker.run):
            rig.bus.publish_events(settings.events_topic, sim.events)
            # Handled twice, not only received twice: a second delivery may still wait in the
            # streaming worker's inbox, and a stop would nack it unhandled.
            wait_until(
                lambda: (
                    len(subscriber.processed) == len(sim.events)
                    and min(subscriber.processed.values()) >= 2
                ),
                SETTLE_S,
                "every message handled twice",
            )
            rig.wait_settled(sim.events, hourly=True)
    finally:
        bus.close()
        table.close()

    assert subscriber.nacked > 0
    assert subscriber.dropped > 0
    assert rt.counters["deliveries"] >= 2 * len(sim.events)
    assert_exact(settings, rig.table, sim.events, hourly=True)
