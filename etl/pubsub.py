"""Pub/Sub adapter: topics, subscriptions, publishing and the dead-letter topic. No business logic.

Publishing batches (the client's own batching; we wait on all futures once, never one by one) and
uses the service name as ordering key, so one site's events keep their order.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1.types import BatchSettings, PublisherOptions
from google.protobuf import duration_pb2
from google.pubsub_v1.types import DeadLetterPolicy, PushConfig, RetryPolicy

from etl import seed
from etl.config import Settings
from etl_core import Event, PubSubMessage

ACK_DEADLINE_S = 60
MAX_DELIVERY_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish."""

    data: bytes
    ordering_key: str = ""
    attributes: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message on the dead-letter topic, as `etl dead-letters` lists it."""

    reason: str
    detail: str
    data: bytes
    message_id: str
    attributes: Mapping[str, str]

    @classmethod
    def of(cls, message_id: str, data: bytes, attributes: Mapping[str, str]) -> DeadLetter:
        """A message of the dead-letter topic: ours carry `reason`; Pub/Sub's own (after too
        many delivery attempts) carry none."""
        attrs = dict(attributes)
        return cls(
            reason=attrs.get("reason", "delivery_failed"),
            detail=attrs.get("detail", "max delivery attempts reached"),
            data=data,
            message_id=attrs.get("originalMessageId") or message_id,
            attributes=attrs,
        )

    def as_json(self) -> dict[str, Any]:
        try:
            text: str | None = self.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "reason": self.reason,
            "detail": self.detail,
            "data": text,
            "data_base64": base64.b64encode(self.data).decode(),
            "message_id": self.message_id,
            "attributes": dict(self.attributes),
        }


def subscription_request(
    project: str, spec: seed.Subscription, push_endpoint: str | None = None
) -> dict[str, Any]:
    """The CreateSubscription request for a seeded subscription."""
    topics = f"projects/{project}/topics/"
    request: dict[str, Any] = {
        "name": f"projects/{project}/subscriptions/{spec.name}",
        "topic": topics + spec.topic,
        "ack_deadline_seconds": spec.ack_deadline_seconds,
        "enable_message_ordering": spec.ordering,
    }
    endpoint = push_endpoint if push_endpoint is not None else spec.push_endpoint
    if endpoint:
        request["push_config"] = PushConfig(push_endpoint=endpoint)
    if spec.retry:
        request["retry_policy"] = RetryPolicy(
            minimum_backoff=_duration(spec.retry.minimum_backoff_seconds),
            maximum_backoff=_duration(spec.retry.maximum_backoff_seconds),
        )
    if spec.dead_letter:
        request["dead_letter_policy"] = DeadLetterPolicy(
            dead_letter_topic=topics + spec.dead_letter.topic,
            max_delivery_attempts=spec.dead_letter.max_delivery_attempts,
        )
    return request


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


class PubSub:
    """Topics and subscriptions of one stage, through the official clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.publisher = pubsub_v1.PublisherClient(
            batch_settings=BatchSettings(max_messages=1000, max_bytes=9_000_000, max_latency=0.01),
            publisher_options=PublisherOptions(enable_message_ordering=True),
        )
        self.subscriber = pubsub_v1.SubscriberClient()

    def close(self) -> None:
        self.publisher.stop()
        self.subscriber.close()

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.settings.project}/topics/{topic}"

    def subscription_path(self, name: str) -> str:
        return f"projects/{self.settings.project}/subscriptions/{name}"

    # --- resources (idempotent) ---

    def ensure_topic(self, topic: str) -> str:
        path = self.topic_path(topic)
        with contextlib.suppress(gexc.AlreadyExists):
            self.publisher.create_topic(name=path)
        return path

    def ensure_subscription(
        self,
        name: str,
        topic: str,
        *,
        push_endpoint: str | None = None,
        dead_letter: bool = True,
        ordering: bool = False,
        ack_deadline_s: int = ACK_DEADLINE_S,
    ) -> str:
        """A subscription made up in code (tests, tools); the pipeline's own are in etl.toml."""
        self.ensure_topic(topic)
        dead = None
        if dead_letter:
            self.ensure_topic(self.settings.dead_letter_topic)
            dead = seed.DeadLetterPolicy(self.settings.dead_letter_topic, MAX_DELIVERY_ATTEMPTS)
        spec = seed.Subscription(
            name=name,
            topic=topic,
            ack_deadline_seconds=ack_deadline_s,
            ordering=ordering,
            dead_letter=dead,
            retry=seed.RetryPolicy(0.1, 10.0),
        )
        return self.put_subscription(spec, push_endpoint)

    def put_subscription(self, spec: seed.Subscription, push_endpoint: str | None = None) -> str:
        """Create the subscription, or bring an existing one's push endpoint to `push_endpoint`
        (None: the spec's own, i.e. back to pull for a pull subscription)."""
        path = self.subscription_path(spec.name)
        endpoint = push_endpoint or spec.push_endpoint or ""
        try:
            self.subscriber.create_subscription(
                request=subscription_request(self.settings.project, spec, endpoint)
            )
        except gexc.AlreadyExists:
            # UpdateSubscription rather than ModifyPushConfig: pstest implements only the former.
            push_config = PushConfig(push_endpoint=endpoint)
            self.subscriber.update_subscription(
                request={
                    "subscription": {"name": path, "push_config": push_config},
                    "update_mask": {"paths": ["push_config"]},
                }
            )
        return path

    def delete_subscription(self, name: str) -> None:
        with contextlib.suppress(gexc.NotFound):
            self.subscriber.delete_subscription(subscription=self.subscription_path(name))

    # --- publishing ---

    def publish(self, topic: str, messages: Iterable[Outgoing]) -> list[str]:
        """Publish all messages, wait for every one; returns the message ids in order."""
        path = self.topic_path(topic)
        keys: set[str] = set()
        pending: list[futures.Future[str]] = []
        for m in messages:
            keys.add(m.ordering_key)
            attributes = dict(m.attributes or {})
            pending.append(
                self.publisher.publish(path, m.data, ordering_key=m.ordering_key, **attributes)
            )
        try:
            return [f.result(timeout=60) for f in pending]
        except Exception:
            # A failed publish pauses its ordering key; let the next attempt through.
            for key in keys - {""}:
                with contextlib.suppress(RuntimeError):  # "not paused": that key did not fail
                    self.publisher.resume_publish(path, key)
            raise

    def publish_events(self, topic: str, events: Iterable[Event]) -> list[str]:
        return self.publish(topic, (Outgoing(e.to_json(), ordering_key=e.service) for e in events))

    def dead_letter(self, message: PubSubMessage, reason: str, detail: str, source: str) -> str:
        """Publish the original bytes to the dead-letter topic with why and where from."""
        attributes = {
            **dict(message.attributes),
            "reason": reason,
            "detail": detail[:1000],
            "source": source,
            "originalMessageId": message.message_id or "",
        }
        return self.publish(
            self.settings.dead_letter_topic, [Outgoing(message.data, "", attributes)]
        )[0]

    def read_dead_letters(self, subscription: str, max_messages: int = 1000) -> list[DeadLetter]:
        """Pull every dead letter without consuming it (nacked again right away)."""
        path = self.subscription_path(subscription)
        seen: dict[str, DeadLetter] = {}
        ack_ids: list[str] = []
        while len(seen) < max_messages:
            response = self.subscriber.pull(
                request={"subscription": path, "max_messages": 500}, timeout=10
            )
            before = len(seen)
            if not response.received_messages:
                break
            for received in response.received_messages:
                ack_ids.append(received.ack_id)
                msg = received.message
                letter = DeadLetter.of(msg.message_id, bytes(msg.data), msg.attributes)
                seen.setdefault(letter.message_id, letter)
            if len(seen) == before:
                break  # only redeliveries of letters already listed: the backlog is drained
        for start in range(0, len(ack_ids), 500):
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": path,
                    "ack_ids": ack_ids[start : start + 500],
                    "ack_deadline_seconds": 0,
                }
            )
        return list(seen.values())
