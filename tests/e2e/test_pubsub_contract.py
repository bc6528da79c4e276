"""What we rely on from the Pub/Sub emulator, through the official Python client."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.pubsub_v1.types import PushConfig

from tests.e2e.sandbox import PubSubSandbox, PushRecorder, eventually

pytestmark = pytest.mark.contract


def test_a_thousand_ordered_messages_are_all_received_by_streaming_pull_in_key_order(
    pubsub: PubSubSandbox, topic: str
) -> None:
    sub = pubsub.subscription(topic, enable_message_ordering=True)
    pubsub.publish_ordered(topic, [(f"key-{i % 4}", f"{i}".encode()) for i in range(1000)])

    handled = pubsub.stream(sub, 1000, lambda message: message.ack(), seconds=30)
    received: dict[str, list[int]] = {}
    for message in handled:  # in the order each callback returned: per key, the delivery order
        received.setdefault(message.ordering_key, []).append(int(message.data))
    assert sorted(v for vs in received.values() for v in vs) == list(range(1000))
    for key, values in received.items():
        assert values == sorted(values), f"{key} out of order"


def bodies(handler: type[PushRecorder]) -> list[dict[str, Any]]:
    """The JSON bodies the push endpoint received, in order."""
    return [json.loads(body) for _, body in handler.requests]


def push_subscription(pubsub: PubSubSandbox, topic: str, url: str, **fields: Any) -> str:
    return pubsub.subscription(topic, "push", push_config=PushConfig(push_endpoint=url), **fields)


@pytest.mark.not_on_cloud("push to an endpoint on this machine")
def test_push_subscription_posts_every_message_with_the_push_body_shape(
    pubsub: PubSubSandbox, topic: str, push_endpoint: tuple[str, type[PushRecorder]]
) -> None:
    url, handler = push_endpoint
    sub = push_subscription(pubsub, topic, url)
    ids = pubsub.publish_all(topic, [f"m{i}".encode() for i in range(50)], origin="test")

    def all_delivered() -> None:
        assert {b["message"]["messageId"] for b in bodies(handler)} == set(ids)

    eventually(all_delivered)
    body = bodies(handler)[0]
    assert body["subscription"] == sub
    assert base64.b64decode(body["message"]["data"]).startswith(b"m")
    assert body["message"]["attributes"] == {"origin": "test"}
    assert body["message"]["publishTime"]


@pytest.mark.not_on_cloud("push to an endpoint on this machine")
def test_a_push_answered_with_500_is_redelivered_until_it_succeeds(
    pubsub: PubSubSandbox, topic: str, push_endpoint: tuple[str, type[PushRecorder]]
) -> None:
    url, handler = push_endpoint
    handler.script = staticmethod(lambda body: 500 if len(handler.requests) < 3 else 200)
    push_subscription(pubsub, topic, url)
    (message_id,) = pubsub.publish_all(topic, [b"retry me"])

    def acked_after_retries() -> None:
        assert len(handler.requests) >= 3
        assert {b["message"]["messageId"] for b in bodies(handler)} == {message_id}

    eventually(acked_after_retries)


@pytest.mark.not_on_cloud("push to an endpoint on this machine")
def test_max_delivery_attempts_moves_a_failing_push_message_to_the_dead_letter_topic(
    pubsub: PubSubSandbox, topic: str, push_endpoint: tuple[str, type[PushRecorder]]
) -> None:
    url, handler = push_endpoint
    handler.script = staticmethod(lambda body: 500)
    policy, dead_sub = pubsub.dead_letter_target(max_delivery_attempts=5)
    push_subscription(pubsub, topic, url, dead_letter_policy=policy)
    pubsub.publish_all(topic, [b"poison"])

    def dead_lettered() -> None:
        response = pubsub.subscriber.pull(
            request={"subscription": dead_sub, "max_messages": 10}, timeout=5
        )
        assert [m.message.data for m in response.received_messages] == [b"poison"]

    eventually(dead_lettered, seconds=60)
    assert len(handler.requests) == 5
