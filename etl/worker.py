"""The streaming-pull worker: the same handlers, batched, for volume beyond one request per event.

Messages are collected from a streaming pull (with flow control) into batches; each batch is one
`handle_batch` call, then every message of it is acked. If the batch fails (Bigtable unavailable,
contention), every message is nacked and the worker backs off exponentially before the next batch:
redelivery without a busy loop.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.cloud.pubsub_v1.types import FlowControl

from etl.handlers import Pipeline, handle_batch
from etl.logs import log
from etl_core import PubSubMessage


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    batch_size: int = 500
    linger_s: float = 0.05
    max_outstanding: int = 5000
    max_backoff_s: float = 10.0


def as_message(received: Any) -> PubSubMessage:
    """The core's message shape from a streaming-pull `Message`."""
    return PubSubMessage(
        data=bytes(received.data),
        message_id=received.message_id,
        attributes=dict(received.attributes),
        publish_time=received.publish_time.isoformat() if received.publish_time else None,
        ordering_key=received.ordering_key or None,
    )


class Worker:
    """Consume one subscription until `stop` is set."""

    def __init__(
        self,
        pipe: Pipeline,
        subscriber: pubsub_v1.SubscriberClient,
        subscription: str,
        options: WorkerOptions | None = None,
    ) -> None:
        self.pipe = pipe
        self.subscriber = subscriber
        self.subscription = subscription
        self.options = options or WorkerOptions()
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._failures = 0

    def run(self, stop: threading.Event) -> None:
        flow = FlowControl(max_messages=self.options.max_outstanding)
        future = self.subscriber.subscribe(self.subscription, self._inbox.put, flow_control=flow)
        log.info("worker started", subscription=self.subscription)
        try:
            while not stop.is_set():
                batch = self._next_batch(stop)
                if batch:
                    self._process(batch)
        finally:
            future.cancel()
            future.result(timeout=10)
            self._nack_leftovers()
            log.info("worker stopped", subscription=self.subscription, counters=self.pipe.counters)

    def _next_batch(self, stop: threading.Event) -> list[Any]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.options.linger_s
        while len(batch) < self.options.batch_size and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Any]) -> None:
        try:
            handle_batch(self.pipe, [as_message(m) for m in batch])
        except Exception as exc:
            for received in batch:
                received.nack()
            self._failures += 1
            self.pipe.count("retries", len(batch))
            delay = min(self.options.max_backoff_s, 0.1 * 2 ** (self._failures - 1))
            log.error(
                "batch failed; nacked for redelivery",
                error=repr(exc),
                size=len(batch),
                backoff_s=delay,
            )
            time.sleep(delay)
            return
        self._failures = 0
        for received in batch:
            received.ack()

    def _nack_leftovers(self) -> None:
        while True:
            try:
                self._inbox.get_nowait().nack()
            except queue.Empty:
                return
