"""What we rely on from the Pub/Sub emulator, through the official Python client."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.types import PublisherOptions
from google.pubsub_v1.types import DeadLetterPolicy, PushConfig
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from etl.config import from_env

pytestmark = pytest.mark.contract


def make_subscription(
    subscriber: pubsub_v1.SubscriberClient, project: str, name: str, topic: str, **extra: Any
) -> str:
    path = subscriber.subscription_path(project, name)
    subscriber.create_subscription(
        request={"name": path, "topic": topic, "ack_deadline_seconds": 10, **extra}
    )
    return path


def test_a_thousand_ordered_messages_are_all_received_by_streaming_pull_in_key_order(
    topic: str,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
) -> None:
    sub = make_subscription(
        etl_subscriber, etl_gcp_project, etl_unique_name("sub"), topic, enable_message_ordering=True
    )
    ordered = pubsub_v1.PublisherClient(
        publisher_options=PublisherOptions(enable_message_ordering=True)
    )
    sent = [(f"key-{i % 4}", f"{i}".encode()) for i in range(1000)]
    publishes = [ordered.publish(topic, data, ordering_key=key) for key, data in sent]
    futures.wait(publishes)
    assert all(f.exception() is None for f in publishes)

    received: dict[str, list[int]] = {}
    done = threading.Event()
    lock = threading.Lock()

    def callback(message: Any) -> None:
        with lock:
            received.setdefault(message.ordering_key, []).append(int(message.data))
            if sum(map(len, received.values())) >= 1000:
                done.set()
        message.ack()

    stream = etl_subscriber.subscribe(sub, callback)
    try:
        assert done.wait(30), f"received only {sum(map(len, received.values()))} of 1000"
    finally:
        stream.cancel()
        stream.result(timeout=10)
    ordered.stop()
    assert sorted(v for vs in received.values() for v in vs) == list(range(1000))
    for key, values in received.items():
        assert values == sorted(values), f"{key} out of order"


class Recorder(BaseHTTPRequestHandler):
    """A push endpoint that records bodies and answers with the status the test scripts."""

    bodies: list[dict[str, Any]]
    script: Callable[[dict[str, Any]], int]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        self.send_response(self.script(body))
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def functions_host() -> str:
    """Where push endpoints listen: 0.0.0.0 when the emulator runs in a container."""
    return from_env(os.environ).functions_host


@pytest.fixture
def push_endpoint() -> Iterator[tuple[str, type[Recorder]]]:
    handler = type("Handler", (Recorder,), {"bodies": [], "script": staticmethod(lambda body: 204)})
    server = ThreadingHTTPServer((functions_host(), 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_port}/push", handler
    server.shutdown()
    server.server_close()


def eventually(check: Callable[[], None], seconds: float = 30) -> None:
    for attempt in Retrying(
        stop=stop_after_delay(seconds),
        wait=wait_fixed(0.1),
        retry=retry_if_exception_type(AssertionError),
        reraise=True,
    ):
        with attempt:
            check()


@pytest.mark.not_on_cloud("push to an endpoint on this machine")
def test_push_subscription_posts_every_message_with_the_push_body_shape(
    topic: str,
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
    push_endpoint: tuple[str, type[Recorder]],
) -> None:
    url, handler = push_endpoint
    sub = make_subscription(
        etl_subscriber,
        etl_gcp_project,
        etl_unique_name("push"),
        topic,
        push_config=PushConfig(push_endpoint=url),
    )
    ids = [
        etl_publisher.publish(topic, f"m{i}".encode(), origin="test").result() for i in range(50)
    ]

    def all_delivered() -> None:
        assert {b["message"]["messageId"] for b in handler.bodies} == set(ids)

    eventually(all_delivered)
    body = handler.bodies[0]
    assert body["subscription"] == sub
    assert base64.b64decode(body["message"]["data"]).startswith(b"m")
    assert body["message"]["attributes"] == {"origin": "test"}
    assert body["message"]["publishTime"]


@pytest.mark.not_on_cloud("push to an endpoint on this machine")
def test_a_push_answered_with_500_is_redelivered_until_it_succeeds(
    topic: str,
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
    push_endpoint: tuple[str, type[Recorder]],
) -> None:
    url, handler = push_endpoint
    handler.script = staticmethod(lambda body: 500 if len(handler.bodies) < 3 else 200)
    make_subscription(
        etl_subscriber,
        etl_gcp_project,
        etl_unique_name("push"),
        topic,
        push_config=PushConfig(push_endpoint=url),
    )
    message_id = etl_publisher.publish(topic, b"retry me").result()

    def acked_after_retries() -> None:
        assert len(handler.bodies) >= 3
        assert {b["message"]["messageId"] for b in handler.bodies} == {message_id}

    eventually(acked_after_retries)


@pytest.mark.not_on_cloud("push to an endpoint on this machine")
def test_max_delivery_attempts_moves_a_failing_push_message_to_the_dead_letter_topic(
    topic: str,
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
    push_endpoint: tuple[str, type[Recorder]],
) -> None:
    url, handler = push_endpoint
    handler.script = staticmethod(lambda body: 500)
    dead = etl_publisher.topic_path(etl_gcp_project, etl_unique_name("dead"))
    etl_publisher.create_topic(name=dead)
    dead_sub = make_subscription(etl_subscriber, etl_gcp_project, etl_unique_name("dead-sub"), dead)
    make_subscription(
        etl_subscriber,
        etl_gcp_project,
        etl_unique_name("push"),
        topic,
        push_config=PushConfig(push_endpoint=url),
        dead_letter_policy=DeadLetterPolicy(dead_letter_topic=dead, max_delivery_attempts=5),
    )
    etl_publisher.publish(topic, b"poison").result()

    def dead_lettered() -> None:
        response = etl_subscriber.pull(
            request={"subscription": dead_sub, "max_messages": 10}, timeout=5
        )
        assert [m.message.data for m in response.received_messages] == [b"poison"]

    eventually(dead_lettered, seconds=60)
    assert len(handler.bodies) == 5
