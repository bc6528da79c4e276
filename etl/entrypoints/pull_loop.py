"""The worker's pull loop: the same handlers, batched, for volume beyond one request per event.
(`etl.entrypoints.worker` is the process that runs it.)

Two ways to receive, same processing: each batch is one `handle_batch` call, then every message of
it is acked (Acknowledge, in bulk). If the batch fails (Bigtable unavailable, contention), every
message is nacked and the worker backs off exponentially before the next batch: redelivery
without a busy loop.

- `batch` (default): synchronous Pull of up to `batch_size` messages. The batch size is the flow
  control.
- `streaming`: a StreamingPull stream (flow control: `max_outstanding` messages outstanding),
  collected into batches; reconnected when it ends. The raw RPC, not the client library's
  `subscribe()`: that holds back every message whose ordering key has one outstanding until it is
  acked, even on a subscription without message ordering (python-pubsub#1181; Go's and Java's
  clients follow the subscription), so a worker that acks after its batch received one message
  per ordering key (per site) per batch: 24 events/s against 1,839 in the bench.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.pubsub_v1.types import StreamingPullRequest

from etl import pipeline
from etl.logs import log
from etl.service.handlers import Runtime, handle_batch
from etl_core import PubSubMessage

PULL_MODES = ("batch", "streaming")
HEARTBEAT_S = 30.0
"""An empty request on an idle stream this often keeps it open (production closes silent ones)."""
READER_JOIN_S = 5.0
"""At most this long for the stream's reader to end at shutdown, within Cloud Run's 10 s; what it
still receives later is redelivered when its ack deadline passes."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    pull: str = "batch"
    batch_size: int = 500
    linger_s: float = 0.05
    max_outstanding: int = 5000
    max_backoff_s: float = 10.0
    ack_deadline_s: int = pipeline.WORKER.delivery.ack_deadline_seconds
    """Streaming: the stream's ack deadline; a batch waiting in the inbox, then handled, fits."""


class Leases:
    """The ack ids a stream delivered and the worker has not yet acked or nacked, with when each
    lease was last set: a message waiting in the inbox behind slow batches is renewed before
    its ack deadline passes, instead of being redelivered while it waits (and handled twice).
    Thread-safe: the stream's reader adds, the batch loop settles and renews."""

    def __init__(self, deadline_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline_s = deadline_s
        self._clock = clock
        self._lock = threading.Lock()
        self._set_at: dict[str, float] = {}

    def add(self, ack_ids: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            self._set_at.update((ack_id, now) for ack_id in ack_ids)

    def settle(self, ack_ids: Iterable[str]) -> None:
        with self._lock:
            for ack_id in ack_ids:
                self._set_at.pop(ack_id, None)

    def due(self) -> list[str]:
        """The leases half way or more to their deadline, counted as renewed from now on."""
        now = self._clock()
        with self._lock:
            due = [a for a, at in self._set_at.items() if now - at >= self.deadline_s / 2]
            self._set_at.update((ack_id, now) for ack_id in due)
        return due


def as_message(received: Any) -> PubSubMessage:
    """The core's message shape from a received `PubsubMessage` (Pull or StreamingPull)."""
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
        self._stream: Any = None
        self._stop = threading.Event()
        self._leases = Leases(self.options.ack_deadline_s)

    def run(self, stop: threading.Event) -> None:
        """Pull and handle until `stop` is set; then the batch in hand is finished (acked, or
        nacked if it fails) and whatever else was received is nacked, so nothing is lost."""
        self._stop = stop
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
            self._settle(received)

    def _settle(self, received: list[Any]) -> None:
        """Handle one batch of received messages, then ack it, or nack it and back off."""
        ack_ids = [r.ack_id for r in received]
        if self._handle([as_message(r.message) for r in received]):
            self._chunked(self.subscriber.acknowledge, ack_ids)
            self._leases.settle(ack_ids)
        else:
            self._chunked(self.subscriber.modify_ack_deadline, ack_ids, ack_deadline_seconds=0)
            self._leases.settle(ack_ids)
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
        reader = threading.Thread(
            target=self._read_stream, args=(stop,), name="streaming-pull", daemon=True
        )
        reader.start()
        try:
            while not stop.is_set():
                batch = self._next_batch(stop)
                if batch:
                    self._settle(batch)
                self._renew_leases()
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                self._stream.cancel()
            reader.join(READER_JOIN_S)
            self._nack_leftovers()

    def _read_stream(self, stop: threading.Event) -> None:
        """Received messages into the inbox until `stop`; a stream that ends or fails is opened
        again after a pause (doubling, at most `max_backoff_s`)."""
        pause = 0.1
        while not stop.is_set():
            try:
                self._stream = self.subscriber.streaming_pull(requests=self._requests(stop))
                for response in self._stream:
                    self._leases.add(r.ack_id for r in response.received_messages)
                    for received in response.received_messages:
                        self._inbox.put(received)
                    pause = 0.1
            except Exception as exc:  # UNAVAILABLE, a closed stream, a cancel
                if stop.is_set():
                    return
                log.warning("streaming pull ended; opening it again", error=repr(exc))
            stop.wait(pause)
            pause = min(self.options.max_backoff_s, pause * 2)

    def _requests(self, stop: threading.Event) -> Any:
        yield StreamingPullRequest(
            subscription=self.subscription,
            stream_ack_deadline_seconds=self.options.ack_deadline_s,
            max_outstanding_messages=self.options.max_outstanding,
        )
        while not stop.wait(HEARTBEAT_S):
            yield StreamingPullRequest()

    def _renew_leases(self) -> None:
        """Extend the ack deadline of what waits in the inbox half way to its deadline (a failed
        renewal is harmless: the message is redelivered, as without it)."""
        due = self._leases.due()
        if due:
            with contextlib.suppress(Exception):
                self._chunked(
                    self.subscriber.modify_ack_deadline,
                    due,
                    ack_deadline_seconds=self.options.ack_deadline_s,
                )

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
        """Wait before the next batch, or less if `stop` is set meanwhile."""
        self._stop.wait(min(self.options.max_backoff_s, 0.1 * 2 ** (self._failures - 1)))

    def _nack_leftovers(self) -> None:
        """What the stream delivered and no batch took: back to Pub/Sub at once."""
        leftovers: list[str] = []
        while True:
            try:
                leftovers.append(self._inbox.get_nowait().ack_id)
            except queue.Empty:
                break
        with contextlib.suppress(Exception):  # the emulator may be gone: the lease then ends
            self._chunked(self.subscriber.modify_ack_deadline, leftovers, ack_deadline_seconds=0)
