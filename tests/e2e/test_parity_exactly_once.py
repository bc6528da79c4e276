"""Exactly-once delivery as Google documents it, through the official Python client.

Production ("Exactly-once delivery"; `Acknowledge`, `ModifyAckDeadline`): on a subscription with
`enable_exactly_once_delivery` an acknowledged message is not delivered again, and an ack or modack
is accepted only for the current delivery of a message that is still leased. A refused one fails
with INVALID_ARGUMENT and a `google.rpc.ErrorInfo` (reason `EXACTLY_ONCE_ACKID_FAILURE`) whose
metadata maps each failed ack id to `PERMANENT_FAILURE_INVALID_ACK_ID` or `TRANSIENT_FAILURE_*`:
what `Message.ack_with_response()` turns into `AcknowledgeError` (or retries). Run against our
emulators, and against Google's with `--etl-emulators=official`, where what the Java emulator
lacks is skipped with the reason. The transient failures are our fault injection
(`transient_ack_failure`), so those tests need our emulator.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.exceptions import AcknowledgeError, AcknowledgeStatus

pytestmark = pytest.mark.parity

REASON = "EXACTLY_ONCE_ACKID_FAILURE"
INVALID = "PERMANENT_FAILURE_INVALID_ACK_ID"
ACK_DEADLINE_S = 10


@pytest.fixture
def sub(
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
    topic: str,
) -> str:
    """An exactly-once pull subscription of `topic`."""
    path = etl_subscriber.subscription_path(etl_gcp_project, etl_unique_name("eod"))
    etl_subscriber.create_subscription(
        request={
            "name": path,
            "topic": topic,
            "ack_deadline_seconds": ACK_DEADLINE_S,
            "enable_exactly_once_delivery": True,
        }
    )
    return path


@dataclass(frozen=True)
class Eod:
    """An exactly-once subscription `sub` of `topic`, with the clients to use them."""

    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient
    topic: str
    sub: str


@pytest.fixture
def eod(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    topic: str,
    sub: str,
) -> Eod:
    return Eod(etl_publisher, etl_subscriber, topic, sub)


def publish(publisher: pubsub_v1.PublisherClient, topic: str, count: int) -> set[bytes]:
    bodies = {f"m{i}".encode() for i in range(count)}
    for body in bodies:
        publisher.publish(topic, body).result(timeout=30)
    return bodies


def publish_under_ack_failures(
    eod: Eod, faults: Any, rate: float, *, seed: int, count: int
) -> set[bytes]:
    """Publish `count` messages to a subscription on which `rate` of the acks fail transiently
    (our emulator's faults, drawn from `seed`)."""
    faults.set_faults(eod.sub, {"transient_ack_failure": rate, "seed": seed})
    return publish(eod.publisher, eod.topic, count)


def pull(subscriber: pubsub_v1.SubscriberClient, sub: str, wait: float = 5) -> list[Any]:
    """What one pull gives within `wait` seconds ([] when nothing came: the client's deadline
    ends the call, reported as DEADLINE_EXCEEDED or, when the server had not answered yet,
    CANCELLED)."""
    try:
        response = subscriber.pull(subscription=sub, max_messages=100, timeout=wait)
    except (gexc.DeadlineExceeded, gexc.Cancelled):
        return []
    return list(response.received_messages)


def pull_count(subscriber: pubsub_v1.SubscriberClient, sub: str, count: int) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + 30
    while len(got) < count and time.monotonic() < deadline:
        got.extend(pull(subscriber, sub))
    assert len(got) == count, f"{len(got)} of {count} delivered"
    return got


def refused(call: Callable[[], object]) -> dict[str, str]:
    """The per ack id results of a call that must fail as production's exactly-once refusal."""
    with pytest.raises(gexc.InvalidArgument) as caught:
        call()
    assert caught.value.reason == REASON
    return dict(caught.value.metadata or {})


def test_an_acknowledged_message_is_not_delivered_again_and_a_second_ack_is_refused(
    eod: Eod,
) -> None:
    publish(eod.publisher, eod.topic, 1)
    (message,) = pull_count(eod.subscriber, eod.sub, 1)
    eod.subscriber.acknowledge(subscription=eod.sub, ack_ids=[message.ack_id])

    again = refused(
        lambda: eod.subscriber.acknowledge(subscription=eod.sub, ack_ids=[message.ack_id])
    )

    assert again == {message.ack_id: INVALID}
    assert pull(eod.subscriber, eod.sub, wait=2) == []


def test_after_a_redelivery_the_superseded_ack_id_is_refused_and_the_current_one_accepted(
    eod: Eod,
) -> None:
    publish(eod.publisher, eod.topic, 1)
    (first,) = pull_count(eod.subscriber, eod.sub, 1)
    eod.subscriber.modify_ack_deadline(
        subscription=eod.sub, ack_ids=[first.ack_id], ack_deadline_seconds=0
    )
    (second,) = pull_count(eod.subscriber, eod.sub, 1)
    assert second.message.message_id == first.message.message_id

    stale = refused(
        lambda: eod.subscriber.acknowledge(subscription=eod.sub, ack_ids=[first.ack_id])
    )
    eod.subscriber.acknowledge(subscription=eod.sub, ack_ids=[second.ack_id])

    assert stale == {first.ack_id: INVALID}
    assert pull(eod.subscriber, eod.sub, wait=2) == []


@pytest.mark.official_lacks("the Java emulator accepts an ack whose lease ran out")
def test_an_ack_id_whose_lease_ran_out_is_refused_and_the_message_delivered_again(eod: Eod) -> None:
    publish(eod.publisher, eod.topic, 1)
    (message,) = pull_count(eod.subscriber, eod.sub, 1)
    eod.subscriber.modify_ack_deadline(
        subscription=eod.sub, ack_ids=[message.ack_id], ack_deadline_seconds=1
    )
    time.sleep(1.5)

    late = refused(
        lambda: eod.subscriber.acknowledge(subscription=eod.sub, ack_ids=[message.ack_id])
    )

    assert late == {message.ack_id: INVALID}
    (redelivered,) = pull_count(eod.subscriber, eod.sub, 1)
    assert redelivered.message.message_id == message.message.message_id


def test_ack_with_response_reports_an_invalid_ack_id_and_confirms_the_current_one(eod: Eod) -> None:
    publish(eod.publisher, eod.topic, 1)
    deliveries: list[Any] = []
    redelivered = threading.Event()

    def callback(message: Any) -> None:
        deliveries.append(message)
        if len(deliveries) == 1:
            message.nack_with_response().result(timeout=30)
        else:
            redelivered.set()

    stream = eod.subscriber.subscribe(eod.sub, callback)
    try:
        assert redelivered.wait(60), "the nacked message was not delivered again"
        with pytest.raises(AcknowledgeError) as caught:
            deliveries[0].ack_with_response().result(timeout=30)
        assert caught.value.error_code == AcknowledgeStatus.INVALID_ACK_ID
        assert deliveries[1].ack_with_response().result(timeout=30) == AcknowledgeStatus.SUCCESS
    finally:
        stream.cancel()
        stream.result(timeout=10)


# A consumer written against production's exactly-once contract, on the unary API: it commits
# its work only for the messages whose ack succeeded, and retries the ack ids that failed
# transiently (the ErrorInfo metadata says which). With `retry_transient=False` it is the common
# mistake of ignoring why an ack failed.


def consume(
    subscriber: pubsub_v1.SubscriberClient,
    sub: str,
    *,
    retry_transient: bool = True,
    rounds: int = 6,
    limit_s: float = 60,
    wait_s: float = 0.5,
) -> Counter[bytes]:
    """Pull (each pull waiting up to `wait_s`), ack and commit until `rounds` pulls in a row came
    back empty, or `limit_s` passed; returns how many times each body was committed."""
    committed: Counter[bytes] = Counter()
    empty, stop = 0, time.monotonic() + limit_s
    while empty < rounds and time.monotonic() < stop:
        messages = pull(subscriber, sub, wait=wait_s)
        if not messages:
            empty += 1
            continue
        empty = 0
        pending = {m.ack_id: m.message.data for m in messages}
        for _ in range(5):
            if not pending:
                break
            failed = ack(subscriber, sub, list(pending))
            for ack_id in set(pending) - set(failed):
                committed[pending.pop(ack_id)] += 1
            transient = {i for i, r in failed.items() if r.startswith("TRANSIENT_")}
            if not retry_transient:
                committed.update(pending[i] for i in transient)  # taken for done: the bug
            pending = {i: d for i, d in pending.items() if i in transient and retry_transient}
    return committed


def ack(subscriber: pubsub_v1.SubscriberClient, sub: str, ack_ids: list[str]) -> dict[str, str]:
    """The ack ids that failed, with production's per ack id result."""
    try:
        subscriber.acknowledge(subscription=sub, ack_ids=ack_ids)
    except gexc.InvalidArgument as failure:
        if failure.reason != REASON:
            raise
        return dict(failure.metadata or {})
    return {}


def test_a_consumer_following_the_contract_commits_each_message_once(eod: Eod) -> None:
    bodies = publish(eod.publisher, eod.topic, 20)

    committed = consume(eod.subscriber, eod.sub)

    assert committed == Counter(bodies)


@pytest.mark.ours_only("transient ack failures are injected by our emulator's faults")
def test_under_transient_ack_failures_the_consumer_still_commits_each_message_once(
    eod: Eod, etl_pubsub_faults: Any
) -> None:
    bodies = publish_under_ack_failures(eod, etl_pubsub_faults, 0.5, seed=11, count=20)

    committed = consume(eod.subscriber, eod.sub)

    assert committed == Counter(bodies)
    assert etl_pubsub_faults.subscription_faults(eod.sub)["fired"]["transient_ack_failure"] > 0


@pytest.mark.ours_only("transient ack failures are injected by our emulator's faults")
def test_a_consumer_ignoring_transient_ack_failures_commits_a_message_twice(
    eod: Eod, etl_pubsub_faults: Any
) -> None:
    bodies = publish_under_ack_failures(eod, etl_pubsub_faults, 1, seed=11, count=3)

    # The unacknowledged messages come back once their lease (10 s) runs out. Pulls wait 5 s: a
    # short pull that ends on the client while the emulator hands the messages out leases them
    # for another 10 s (on a loaded machine that used up the time limit: CI, compose stage).
    committed = consume(
        eod.subscriber, eod.sub, retry_transient=False, rounds=1000, limit_s=40, wait_s=5
    )

    assert set(committed) == bodies
    assert all(n >= 2 for n in committed.values()), committed


@pytest.mark.ours_only("transient ack failures are injected by our emulator's faults")
def test_ack_with_response_retries_a_transient_failure_until_it_succeeds(
    eod: Eod, etl_pubsub_faults: Any
) -> None:
    bodies = publish_under_ack_failures(eod, etl_pubsub_faults, 1, seed=3, count=5)
    confirmed: Counter[bytes] = Counter()
    lock, done = threading.Lock(), threading.Event()

    def callback(message: Any) -> None:
        status = message.ack_with_response().result(timeout=60)
        with lock:
            if status == AcknowledgeStatus.SUCCESS:
                confirmed[message.data] += 1
            if len(confirmed) == len(bodies):
                done.set()

    stream = eod.subscriber.subscribe(eod.sub, callback)
    try:
        assert done.wait(90), f"confirmed {dict(confirmed)}"
    finally:
        stream.cancel()
        stream.result(timeout=10)
    assert confirmed == Counter(bodies)
    assert etl_pubsub_faults.subscription_faults(eod.sub)["fired"]["transient_ack_failure"] >= 5
