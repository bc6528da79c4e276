"""Topics and subscriptions of a test's own, through the session's official clients: what the
contract and parity tests set up again and again (`pubsub` fixture, tests/e2e/conftest.py), and
the push endpoint they point subscriptions at. Nothing here depends on whose emulators answer
(ours, Google's, or Google Cloud under `--etl-emulators=cloud`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.types import PublisherOptions
from google.pubsub_v1.types import DeadLetterPolicy
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


def delete_subscription(subscriber: pubsub_v1.SubscriberClient, path: str) -> None:
    """Delete `path` if it is still there (a test may have deleted it itself)."""
    with contextlib.suppress(NotFound):
        subscriber.delete_subscription(subscription=path)


def eventually(check: Callable[[], None], seconds: float = 30) -> None:
    """Run `check` until it stops raising AssertionError (the last one is raised after
    `seconds`)."""
    for attempt in Retrying(
        stop=stop_after_delay(seconds),
        wait=wait_fixed(0.1),
        retry=retry_if_exception_type(AssertionError),
        reraise=True,
    ):
        with attempt:
            check()


@dataclass(frozen=True)
class PubSubSandbox:
    """The session's clients and this test's project; every resource made here is named by
    `etl_unique_name`, so no other test sees it."""

    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient
    project: str
    unique_name: Callable[[str], str]
    made: list[str] = field(default_factory=list)
    """The subscriptions made here, deleted by `close`."""

    def topic(self, prefix: str = "topic") -> str:
        """A new topic, by full path."""
        path: str = self.publisher.topic_path(self.project, self.unique_name(prefix))
        self.publisher.create_topic(name=path)
        return path

    def subscription(self, topic: str, prefix: str = "sub", **fields: Any) -> str:
        """A new subscription to `topic` with a 10 s ack deadline unless `fields` give one (the
        client would send 0, which some emulators refuse)."""
        path: str = self.subscriber.subscription_path(self.project, self.unique_name(prefix))
        self.subscriber.create_subscription(
            request={"name": path, "topic": topic, "ack_deadline_seconds": 10, **fields}
        )
        self.made.append(path)
        return path

    def close(self) -> None:
        """Delete the subscriptions made here. The emulators outlive the test: a push
        subscription left behind keeps retrying what its endpoint refused, at a port that another
        test's function server may bind next (it once delivered a foreign message to one)."""
        for path in self.made:
            delete_subscription(self.subscriber, path)

    def dead_letter_target(self, max_delivery_attempts: int) -> tuple[DeadLetterPolicy, str]:
        """A dead-letter topic with a subscription that keeps what reaches it: the policy that
        sends there, and that subscription."""
        dead_topic = self.topic("dead")
        policy = DeadLetterPolicy(
            dead_letter_topic=dead_topic, max_delivery_attempts=max_delivery_attempts
        )
        return policy, self.subscription(dead_topic, "dead-sub")

    def publish_all(self, topic: str, bodies: list[bytes], **attributes: str) -> list[str]:
        """Publish each body (with `attributes`), waiting for every id."""
        return [
            self.publisher.publish(topic, body, **attributes).result(timeout=30) for body in bodies
        ]

    def publish_ordered(self, topic: str, keyed: list[tuple[str, bytes]]) -> list[str]:
        """Publish each (ordering key, body) in order through a publisher with message ordering
        on (the session's has it off), waiting for every id."""
        ordered = pubsub_v1.PublisherClient(
            publisher_options=PublisherOptions(enable_message_ordering=True)
        )
        try:
            futures = [ordered.publish(topic, body, ordering_key=key) for key, body in keyed]
            return [future.result(timeout=30) for future in futures]
        finally:
            ordered.stop()

    def pull(self, subscription: str, count: int, *, ack: bool = True) -> list[Any]:
        """Pull until `count` messages came (acking them unless told not to)."""
        got: list[Any] = []

        def enough() -> None:
            response = self.subscriber.pull(
                subscription=subscription, max_messages=count, timeout=10
            )
            got.extend(response.received_messages)
            if ack and response.received_messages:
                self.subscriber.acknowledge(
                    subscription=subscription,
                    ack_ids=[m.ack_id for m in response.received_messages],
                )
            assert len(got) >= count, f"{len(got)} of {count}"

        eventually(enough)
        return got

    def stream(
        self,
        subscription: str,
        count: int,
        handle: Callable[[Any], None],
        *,
        seconds: float = 60,
        **options: Any,
    ) -> list[Any]:
        """Streaming pull (`subscribe`, with `options` such as flow control) until `handle`
        (which acks, or not) has returned for `count` messages; those messages, in the order
        their `handle` returned. The stream is cancelled and joined whatever happens."""
        handled: list[Any] = []
        lock, done = threading.Lock(), threading.Event()

        def callback(message: Any) -> None:
            handle(message)
            with lock:
                handled.append(message)
                if len(handled) >= count:
                    done.set()

        future = self.subscriber.subscribe(subscription, callback, **options)
        try:
            assert done.wait(seconds), f"{len(handled)} of {count} messages handled"
        finally:
            future.cancel()
            future.result(timeout=10)
        return handled

    def pull_bodies(self, subscription: str, count: int, *, ack: bool = True) -> list[bytes]:
        """The bodies of `pull`."""
        return [m.message.data for m in self.pull(subscription, count, ack=ack)]


class PushRecorder(BaseHTTPRequestHandler):
    """A push endpoint that records each request (lower-cased headers, body) and answers what
    `script(body)` says (204 unless a test scripts otherwise)."""

    requests: list[tuple[dict[str, str], bytes]]
    script: Callable[[bytes], int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.script(body))
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def serve_push_endpoint(host: str) -> Iterator[tuple[str, type[PushRecorder]]]:
    """A `PushRecorder` on `host` (where the emulator reaches it: 0.0.0.0 when the emulator runs
    in a container) on a free port: its URL and its handler class, for the block."""
    handler = type(
        "Handler", (PushRecorder,), {"requests": [], "script": staticmethod(lambda body: 204)}
    )
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_port}/push", handler
    finally:
        server.shutdown()
        server.server_close()
