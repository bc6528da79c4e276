"""The cloud run's cleanup, held against the emulators standing in for Google Cloud: everything
under the run's prefix goes, nothing else does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import bigtable, pubsub_v1

from etl_harness.cloud import CloudTarget, cleanup


def test_cleanup_deletes_every_resource_under_the_prefix_and_nothing_else(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_bigtable_client: bigtable.Client,
    etl_unique_name: Callable[[str], str],
) -> None:
    target = CloudTarget(etl_unique_name("p"), "cleanup-instance", "etlt-c0ffee00")
    project = target.project

    def make(prefix: str) -> dict[str, Any]:
        topic = etl_publisher.topic_path(project, f"{prefix}topic")
        sub = etl_subscriber.subscription_path(project, f"{prefix}sub")
        snapshot = etl_subscriber.snapshot_path(project, f"{prefix}snap")
        etl_publisher.create_topic(name=topic)
        etl_subscriber.create_subscription(
            request={"name": sub, "topic": topic, "ack_deadline_seconds": 10}
        )
        etl_subscriber.create_snapshot(request={"name": snapshot, "subscription": sub})
        table = etl_bigtable_client.instance(target.instance).table(
            f"{prefix.replace('-', '_')}table"
        )
        table.create(column_families={"f": None})
        return {"topic": topic, "sub": sub, "snapshot": snapshot, "table": table.name}

    ours = make(f"{target.prefix}-")
    theirs = make("kept-")

    deleted = cleanup(target, etl_publisher, etl_subscriber, etl_bigtable_client)

    assert sorted(deleted) == sorted(ours.values())
    scope = {"project": f"projects/{project}"}
    assert [t.name for t in etl_publisher.list_topics(request=scope)] == [theirs["topic"]]
    assert [s.name for s in etl_subscriber.list_subscriptions(request=scope)] == [theirs["sub"]]
    assert [s.name for s in etl_subscriber.list_snapshots(request=scope)] == [theirs["snapshot"]]
    tables = etl_bigtable_client.instance(target.instance).list_tables()
    assert [t.name for t in tables] == [theirs["table"]]
