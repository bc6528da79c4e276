"""Behaviours Google's published samples (python-pubsub `samples/snippets`, python-bigtable
`samples/`) rely on, found where a sample passed against Google's emulators and failed against ours
(`tests/samples/run_google_samples.py`; docs/emulators/samples.md). Each is reproduced here through
the official client, so CI keeps it without the samples: run against ours (`nox -s e2e`) and
Google's (`--etl-emulators=official`). The invalid-name StreamingPull case of
`subscriber_test::test_optimistic_subscribe` is in test_parity_pubsub.py.
"""

from __future__ import annotations

import pytest

from tests.e2e.sandbox import PubSubSandbox

pytestmark = pytest.mark.parity


def test_a_topic_a_subscription_dead_letters_to_can_be_deleted_and_the_policy_stays(
    pubsub: PubSubSandbox, topic: str
) -> None:
    """DeleteTopic refuses nothing but a missing topic (Google's reference: existing
    subscriptions are not deleted); subscriber_test's module fixture deletes its dead-letter
    topic while a subscription still names it."""
    policy, _ = pubsub.dead_letter_target(max_delivery_attempts=5)
    sub = pubsub.subscription(topic, dead_letter_policy=policy)

    pubsub.publisher.delete_topic(topic=policy.dead_letter_topic)

    kept = pubsub.subscriber.get_subscription(subscription=sub).dead_letter_policy
    assert kept.dead_letter_topic == policy.dead_letter_topic
    assert kept.max_delivery_attempts == 5
