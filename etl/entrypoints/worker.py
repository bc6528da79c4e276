"""The worker: the same handlers, batched, for volume beyond one request per event.

Two ways to receive, same processing: each batch is one `handle_batch` call, then every message of
it is acked. If the batch fails (Bigtable unavailable, contention), every message is nacked and the
worker backs off exponentially before the next batch: redelivery without a busy loop.

- `batch` (default): synchronous Pull of up to `batch_size` messages, acked in bulk. The batch size
  is the flow control. Fast everywhere, including pstest, whose streaming pull hands out one
  message per stream every 10 ms (about 100 msgs/s).
- `streaming`: the client's streaming pull with `FlowControl`, collected into batches; the usual
  choice against production Pub/Sub.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.cloud.pubsub_v1.types import FlowControl

from etl.logs import log
from etl.service.handlers import Runtime, handle_batch
from etl_core import PubSubMessage

PULL_MODES = ("batch", "streaming")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    pull: str = "batch"
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
        rt: Runtime,
        subscriber: pubsub_v1.SubscriberClient,
        subscription: str,
        options: WorkerOptions | None = None,
    ) -> None:
        self.rt = rt
        self.subscriber = subscriber
        self.subscription = subscription
        self.options = options or WorkerOptions()
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._failures = 0

    def run(self, stop: threading.Event) -> None:
        log.info("worker started", subscription=self.subscription, pull=self.options.pull)
        if self.options.pull == "batch":
            self._run_batches(stop)
        else:
            self._run_streaming(stop)
        with contextlib.suppress(Exception):  # the table may be what is failing
            self.rt.flush_counters(force=True)
        log.info("worker stopped", subscription=self.subscription, counters=self.rt.counters.totals)

    def _run_batches(self, stop: threading.Event) -> None:
        while not stop.is_set():
            response = self.subscriber.pull(
                request={
                    "subscription": self.subscription,
                    "max_messages": self.options.batch_size,
                },
                timeout=30,
            )
            received = list(response.received_messages)
            if not received:
                stop.wait(self.options.linger_s)
                continue
            ack_ids = [r.ack_id for r in received]
            if self._handle([as_message(r.message) for r in received]):
                self._chunked(self.subscriber.acknowledge, ack_ids)
            else:
                self._chunked(self.subscriber.modify_ack_deadline, ack_ids, ack_deadline_seconds=0)
                self._back_off()

    def _chunked(self, call: Any, ack_ids: list[str], **extra: Any) -> None:
        for start in range(0, len(ack_ids), 1000):
            call(
                request={
                    "subscription": self.subscription,
                    "ack_ids": ack_ids[start : start + 1000],
                    **extra,
                }
            )

    def _run_streaming(self, stop: threading.Event) -> None:
        flow = FlowControl(max_messages=self.options.max_outstanding)
        future = self.subscriber.subscribe(self.subscription, self._inbox.put, flow_control=flow)
        try:
            while not stop.is_set():
                batch = self._next_batch(stop)
                if batch:
                    self._process(batch)
        finally:
            future.cancel()
            future.result(timeout=10)
            self._nack_leftovers()

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
        if not self._handle([as_message(m) for m in batch]):
            for received in batch:
                received.nack()
            self._back_off()
            return
        for received in batch:
            received.ack()

    def _handle(self, messages: list[PubSubMessage]) -> bool:
        """True when the batch is done and may be acked; False to nack it for redelivery."""
        try:
            handle_batch(self.rt, messages)
        except Exception as exc:  # any failure: nack the batch, back off, retry later
            self._failures += 1
            self.rt.count("retries", len(messages))
            log.error("batch failed; nacked for redelivery", error=repr(exc), size=len(messages))
            with contextlib.suppress(Exception):  # the table may be what failed
                self.rt.flush_counters()
            return False
        self._failures = 0
        self.rt.flush_counters()
        return True

    def _back_off(self) -> None:
        time.sleep(min(self.options.max_backoff_s, 0.1 * 2 ** (self._failures - 1)))

    def _nack_leftovers(self) -> None:
        while True:
            try:
                self._inbox.get_nowait().nack()
            except queue.Empty:
                return
