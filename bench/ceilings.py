"""What the Python clients can push through each emulator at best: the ceilings for the pipeline."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.cloud import bigtable
from google.cloud.bigtable import column_family, data
from google.cloud.pubsub_v1.types import BatchSettings, FlowControl

PAYLOAD = b'{"service":"acceso-norte","eventTime":"2026-11-28T08:00:00.000Z","event":1}'
INSTANCE = "iotincoming"
BATCH = 1000
CELLS = (
    (b"service", b"acceso-norte"),
    (b"eventTime", b"2026-11-28T08:00:00.000Z"),
    (b"event", b"1"),
)


def fresh_topic(name: str, **subscription: Any) -> tuple[Any, Any, str, str]:
    """Batching publisher, subscriber, a new topic and its subscription (60 s ack deadline, plus
    `subscription`'s fields, e.g. a `push_config`) in a new project named after `name`."""
    project = f"{name}-{uuid.uuid4().hex[:8]}"
    publisher = pubsub_v1.PublisherClient(
        batch_settings=BatchSettings(max_messages=1000, max_bytes=9_000_000, max_latency=0.01)
    )
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(project, f"{name}-topic")).name
    sub = subscriber.subscription_path(project, f"{name}-subscription")
    subscriber.create_subscription(
        request={"name": sub, "topic": topic, "ack_deadline_seconds": 60, **subscription}
    )
    return publisher, subscriber, topic, sub


def _fresh_topic_and_subscription() -> tuple[Any, Any, str, str]:
    """`fresh_topic` with a pull subscription."""
    return fresh_topic("ceiling")


def pubsub_streaming(messages: int) -> float:
    """Msgs/s from the first publish to the last ack of a streaming pull running alongside."""
    publisher, subscriber, topic, sub = _fresh_topic_and_subscription()
    done = threading.Event()
    lock = threading.Lock()
    received = 0

    def on_message(message: pubsub_v1.subscriber.message.Message) -> None:
        nonlocal received
        message.ack()
        with lock:
            received += 1
            if received >= messages:
                done.set()

    stream = subscriber.subscribe(sub, on_message, flow_control=FlowControl(max_messages=10_000))
    begin = time.perf_counter()
    futures = [publisher.publish(topic, PAYLOAD) for _ in range(messages)]
    for future in futures:
        future.result()
    done.wait(120)
    elapsed = time.perf_counter() - begin
    stream.cancel()
    stream.result(timeout=10)
    _discard(publisher, subscriber, topic, sub)
    return received / elapsed


def pubsub_sync_pull(messages: int) -> float:
    """Msgs/s: batched publish, then synchronous Pull of 1,000 at a time with bulk acks."""
    publisher, subscriber, topic, sub = _fresh_topic_and_subscription()
    begin = time.perf_counter()
    for future in [publisher.publish(topic, PAYLOAD) for _ in range(messages)]:
        future.result()
    received = 0
    while received < messages and time.perf_counter() - begin < 120:
        response = subscriber.pull(request={"subscription": sub, "max_messages": 1000}, timeout=30)
        ack_ids = [m.ack_id for m in response.received_messages]
        if ack_ids:
            subscriber.acknowledge(request={"subscription": sub, "ack_ids": ack_ids})
        received += len(ack_ids)
    elapsed = time.perf_counter() - begin
    _discard(publisher, subscriber, topic, sub)
    return received / elapsed


def _discard(publisher: Any, subscriber: Any, topic: str, sub: str) -> None:
    """Delete the subscription (and any backlog) and the topic; close the clients."""
    subscriber.delete_subscription(subscription=sub)
    publisher.delete_topic(topic=topic)
    publisher.stop()
    subscriber.close()


def bigtable_legacy_rows(rows: int) -> float:
    """Rows/s of bulk MutateRows through the legacy path (`DirectRow`, `Table.mutate_rows`),
    3 cells a row, 1,000 rows a request."""
    client, table = _fresh_table()
    try:
        begin = time.perf_counter()
        for start in range(0, rows, BATCH):
            batch = []
            for i in range(start, min(rows, start + BATCH)):
                row = table.direct_row(f"acceso-norte#{i:09d}".encode())
                for qualifier, value in CELLS:
                    row.set_cell("event", qualifier, value)
                batch.append(row)
            statuses = table.mutate_rows(batch)
            assert all(s.code == 0 for s in statuses)
        elapsed = time.perf_counter() - begin
    finally:
        table.delete()
        client.close()
    return rows / elapsed


def bigtable_data_api_rows(rows: int) -> float:
    """Rows/s of bulk MutateRows through the data API (`google.cloud.bigtable.data`:
    `Table.bulk_mutate_rows` of `RowMutationEntry`s), same rows, cells and batches as the legacy
    path; it raises `MutationsExceptionGroup` if any entry fails."""
    admin, table = _fresh_table()
    client = data.BigtableDataClient(project=admin.project)  # the emulator: BIGTABLE_EMULATOR_HOST
    try:
        target = client.get_table(INSTANCE, table.table_id)
        begin = time.perf_counter()
        for start in range(0, rows, BATCH):
            target.bulk_mutate_rows(
                [
                    data.RowMutationEntry(
                        f"acceso-norte#{i:09d}".encode(),
                        [data.SetCell("event", q, v) for q, v in CELLS],
                    )
                    for i in range(start, min(rows, start + BATCH))
                ]
            )
        elapsed = time.perf_counter() - begin
        target.close()
    finally:
        client.close()
        table.delete()
        admin.close()
    return rows / elapsed


def _fresh_table() -> tuple[bigtable.Client, Any]:
    """An admin client on a new project and a new table with the `event` family."""
    client = bigtable.Client(project=f"ceiling-{uuid.uuid4().hex[:8]}", admin=True)
    table = client.instance(INSTANCE).table("ceiling")
    table.create(column_families={"event": column_family.MaxVersionsGCRule(1)})
    return client, table
