"""Pub/Sub adapter: topics, subscriptions, publishing and the dead-letter topic. No business logic.

Publishing batches (the client's own batching; we wait on all futures once, never one by one) and
uses the service name as ordering key, so one site's events keep their order.
"""

from __future__ import annotations

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


def subscription_request(
    project: str,
    name: str,
    topic: str,
    *,
    ack_deadline_seconds: int = ACK_DEADLINE_S,
    ordering: bool = False,
    exactly_once: bool = False,
    push_endpoint: str = "",
    dead_letter: tuple[str, int] | None = None,
    backoff: tuple[float, float] | None = None,
    oidc_token: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A CreateSubscription request. `dead_letter` is `(topic, max delivery attempts)`,
    `backoff` the retry policy's `(minimum, maximum)` seconds, `oidc_token` a push
    subscription's `(service account email, audience)` ("" audience: the endpoint)."""
    topics = f"projects/{project}/topics/"
    request: dict[str, Any] = {
        "name": f"projects/{project}/subscriptions/{name}",
        "topic": topics + topic,
        "ack_deadline_seconds": ack_deadline_seconds,
        "enable_message_ordering": ordering,
        "enable_exactly_once_delivery": exactly_once,
    }
    if push_endpoint:
        request["push_config"] = PushConfig(push_endpoint=push_endpoint)
        if oidc_token:
            email, audience = oidc_token
            request["push_config"].oidc_token = PushConfig.OidcToken(
                service_account_email=email, audience=audience
            )
    if backoff:
        request["retry_policy"] = RetryPolicy(
            minimum_backoff=_duration(backoff[0]), maximum_backoff=_duration(backoff[1])
        )
    if dead_letter:
        request["dead_letter_policy"] = DeadLetterPolicy(
            dead_letter_topic=topics + dead_letter[0], max_delivery_attempts=dead_letter[1]
        )
    return request


def publisher_client(**options: Any) -> pubsub_v1.PublisherClient:
    """A publisher. Like every official client, it reaches an emulator only through
    `PUBSUB_EMULATOR_HOST` in the process environment (see `etl.adapters.bigtable`)."""
    return pubsub_v1.PublisherClient(**options)


def subscriber_client() -> pubsub_v1.SubscriberClient:
    return pubsub_v1.SubscriberClient()


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


class PubSub:
    """Topics and subscriptions of one stage, through the official clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.publisher = publisher_client(
            batch_settings=BatchSettings(max_messages=1000, max_bytes=9_000_000, max_latency=0.01),
            publisher_options=PublisherOptions(enable_message_ordering=True),
        )
        self.subscriber = subscriber_client()

    def close(self) -> None:
        self.publisher.stop()
        self.subscriber.close()

    def topic_path(self, topic: str) -> str:
        """`projects/P/topics/<topic>` of a topic *name* (a path here would be wrapped twice)."""
        return f"projects/{self.settings.project}/topics/{_name(topic, 'topic')}"

    def subscription_path(self, name: str) -> str:
        return f"projects/{self.settings.project}/subscriptions/{_name(name, 'subscription')}"

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
        policy = None
        if dead_letter:
            self.ensure_topic(self.settings.dead_letter_topic)
            policy = (self.settings.dead_letter_topic, MAX_DELIVERY_ATTEMPTS)
        request = subscription_request(
            self.settings.project,
            name,
            topic,
            ack_deadline_seconds=ack_deadline_s,
            ordering=ordering,
            push_endpoint=push_endpoint or "",
            dead_letter=policy,
            backoff=(0.1, 10.0),
        )
        return self.put_subscription(request)

    def put_subscription(self, request: dict[str, Any]) -> str:
        """Create the subscription, or bring an existing one's push endpoint to the request's
        (none: back to pull)."""
        try:
            self.subscriber.create_subscription(request=request)
        except gexc.AlreadyExists:
            # UpdateSubscription rather than ModifyPushConfig: pstest implements only the former.
            push_config = request.get("push_config") or PushConfig(push_endpoint="")
            self.subscriber.update_subscription(
                request={
                    "subscription": {"name": request["name"], "push_config": push_config},
                    "update_mask": {"paths": ["push_config"]},
                }
            )
        return str(request["name"])

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


def _name(name: str, kind: str) -> str:
    if "/" in name:
        raise ValueError(f"a {kind} name, not a path, is expected here: {name!r}")
    return name
