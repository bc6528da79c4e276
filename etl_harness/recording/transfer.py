"""Recording a topic through a temporary subscription, and replaying a recording, over the
official Pub/Sub client."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from google.api_core import exceptions as gexc

from etl.adapters.pubsub import ACK_DEADLINE_S, Outgoing, PubSub, subscription_request
from etl.config import Settings
from etl_harness.recording.errors import InvalidTopic, TopicNotFound
from etl_harness.recording.files import RecordedMessage, Recording
from etl_harness.recording.timing import schedule

BATCH = 1000
"""Messages per pull, and at most per publish call of a replay (a publish request's cap)."""
POLL_S = 5.0
"""Longest wait of one pull: a `--duration` or Ctrl-C is noticed within it."""
EXPIRY_S = 24 * 3600
"""Production deletes the temporary subscription after a day unused if it outlives us (kill -9)."""

Stopped = Literal["limit", "duration", "interrupted"]


@dataclass(frozen=True, slots=True)
class Capture:
    """What `record` got, through which temporary subscription, and why it stopped."""

    recording: Recording
    subscription: str
    stopped: Stopped


def temporary_subscription(topic: str) -> str:
    return f"etl-record-{topic[:200]}-{uuid.uuid4().hex[:8]}"


def record(
    bus: PubSub,
    topic: str,
    limit: int | None = None,
    duration: float | None = None,
    on_ready: Callable[[str], None] = lambda _: None,
    on_recorded: Callable[[int], None] = lambda _: None,
) -> Capture:
    """Messages published to `topic` from now on, through a subscription made for this call and
    deleted when it ends, however it ends. Stops after `limit` messages, after `duration`
    seconds, or at Ctrl-C (KeyboardInterrupt: what was recorded is kept). `on_ready(name)` once
    the subscription exists (messages published before are not seen); `on_recorded(n)` after
    each batch. Messages come back sorted by publish time; the subscription has message ordering
    on, so messages of one ordering key with the same publish time keep their order."""
    name = temporary_subscription(topic_name(topic))
    path = bus.subscription_path(name)
    request = subscription_request(
        bus.settings.project,
        name,
        topic,
        ordering=True,
        ack_deadline_seconds=ACK_DEADLINE_S,
    )
    request["expiration_policy"] = {"ttl": {"seconds": EXPIRY_S}}
    try:
        try:
            bus.subscriber.create_subscription(request=request)
        except gexc.NotFound as err:
            raise _no_topic(bus, topic) from err
        on_ready(name)
        received, stopped = _pull(bus, path, limit, duration, on_recorded)
    finally:
        with contextlib.suppress(gexc.NotFound):
            bus.subscriber.delete_subscription(request={"subscription": path})
    ordered = sorted(received, key=lambda m: m.publish_time)
    return Capture(Recording(topic, bus.settings.project, tuple(ordered)), name, stopped)


def _pull(
    bus: PubSub,
    path: str,
    limit: int | None,
    duration: float | None,
    on_recorded: Callable[[int], None],
) -> tuple[list[RecordedMessage], Stopped]:
    seen: dict[str, RecordedMessage] = {}  # by message id: delivery is at least once
    end = None if duration is None else time.monotonic() + duration
    try:
        while limit is None or len(seen) < limit:
            left = POLL_S if end is None else end - time.monotonic()
            if left <= 0:
                return list(seen.values()), "duration"
            wanted = BATCH if limit is None else min(BATCH, limit - len(seen))
            wait = max(min(left, POLL_S), 0.05)
            cut = time.monotonic() + wait
            try:
                response = bus.subscriber.pull(
                    request={"subscription": path, "max_messages": wanted}, timeout=wait
                )
            except (gexc.DeadlineExceeded, gexc.Cancelled):
                # Nothing published before our timeout: DEADLINE_EXCEEDED, or CANCELLED when the
                # server gives up waiting at that very moment (the emulator's 500 ms wait).
                if time.monotonic() < cut:
                    raise
                continue
            if not response.received_messages:
                continue
            before = len(seen)
            for received in response.received_messages:
                seen.setdefault(received.message.message_id, _recorded(received.message))
            bus.subscriber.acknowledge(
                request={
                    "subscription": path,
                    "ack_ids": [r.ack_id for r in response.received_messages],
                }
            )
            on_recorded(len(seen) - before)
    except KeyboardInterrupt:
        return list(seen.values()), "interrupted"
    return list(seen.values()), "limit"


def _recorded(message: Any) -> RecordedMessage:
    t = message.publish_time  # the client's DatetimeWithNanoseconds, UTC
    return RecordedMessage(
        data=bytes(message.data),
        publish_time=datetime(
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, tzinfo=UTC
        ),
        attributes=dict(message.attributes),
        ordering_key=message.ordering_key,
        message_id=message.message_id,
    )


class Publisher(Protocol):
    """What `replay` needs of `etl.adapters.pubsub.PubSub`."""

    settings: Settings

    def publish(self, topic: str, messages: Iterable[Outgoing]) -> list[str]: ...


def replay(
    bus: Publisher,
    recording: Recording,
    speed_factor: float = 1.0,
    on_published: Callable[[int], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Publish the recording's messages to its topic in the file's order, at `schedule`'s
    offsets, with their attributes and ordering keys; returns how many. The messages due at the
    same moment (or already late) go in one publish call, waited for before the next."""
    messages = recording.messages
    offsets = schedule([m.publish_time for m in messages], speed_factor)
    start = clock()
    sent = 0
    while sent < len(messages):
        wait = start + offsets[sent] - clock()
        if wait > 0:
            sleep(wait)
        due = clock() - start
        end = sent + 1
        while end < len(messages) and end - sent < BATCH and offsets[end] <= due:
            end += 1
        batch = [Outgoing(m.data, m.ordering_key, m.attributes) for m in messages[sent:end]]
        try:
            bus.publish(recording.topic, batch)
        except gexc.NotFound as err:
            raise _no_topic(bus, recording.topic) from err
        on_published(len(batch))
        sent = end
    return sent


def topic_name(topic: str) -> str:
    """`topic`, checked to be a name (of the configured project), not a path."""
    if "/" in topic:
        raise InvalidTopic(f"a topic name, not a path, is expected: {topic!r}")
    return topic


def _no_topic(bus: Publisher, topic: str) -> TopicNotFound:
    return TopicNotFound(f"topic {topic!r} does not exist in project {bus.settings.project}")
