"""Measures the Pub/Sub emulator with the official Python client (google-cloud-pubsub).

  python streaming_pull.py --mode subscribe --messages 5000   # subscribe(): streaming pull, msg/s
  python streaming_pull.py --mode pull --messages 20000       # synchronous pull + ack in batches of 1,000
  python streaming_pull.py --mode idle --pid PID              # CPU the emulator spends idle with backlogs
  python streaming_pull.py --mode idle-streams --messages 0 --pid PID  # ... with idle subscribe() streams
  python streaming_pull.py --mode subscribe --ordering-keys 10  # subscribe() on an ordered subscription

Needs PUBSUB_EMULATOR_HOST. Each run uses fresh topic/subscription names and
deletes them at the end. Published messages are 100-byte payloads.
"""

import argparse
import os
import threading
import time
import uuid

from google.cloud import pubsub_v1

PROJECT = "bench"


def publish(publisher, topic, n, keys=0):
    futures = [publisher.publish(topic, b"x" * 100, seq=str(i), ordering_key=f"k{i % keys}" if keys else "")
               for i in range(n)]
    for f in futures:
        f.result()


def create(publisher, subscriber, subs=1, ordered=False, exactly_once=False):
    run = uuid.uuid4().hex[:8]
    topic = publisher.topic_path(PROJECT, f"t-{run}")
    publisher.create_topic(name=topic)
    names = []
    for i in range(subs):
        name = subscriber.subscription_path(PROJECT, f"s-{run}-{i}")
        subscriber.create_subscription(request={"name": name, "topic": topic, "ack_deadline_seconds": 60,
                                                "enable_message_ordering": ordered,
                                                "enable_exactly_once_delivery": exactly_once})
        names.append(name)
    return topic, names


def run_subscribe(subscriber, sub, n, exactly_once=False):
    seen = set()
    calls = [0]
    lock = threading.Lock()
    done = threading.Event()

    last = {}
    disorder = [0]

    def callback(message):
        if exactly_once:
            message.ack_with_response().result(timeout=60)
        else:
            message.ack()
        with lock:
            calls[0] += 1
            if message.ordering_key and message.message_id not in seen:
                i = int(message.attributes["seq"])
                if last.get(message.ordering_key, -1) > i:
                    disorder[0] += 1
                last[message.ordering_key] = i
            seen.add(message.message_id)
            if len(seen) >= n:
                done.set()

    start = time.monotonic()
    future = subscriber.subscribe(sub, callback)
    if not done.wait(timeout=600):
        print(f"timed out with {len(seen)} of {n} messages")
    elapsed = time.monotonic() - start
    future.cancel()  # stops the stream; result() then returns
    future.result(timeout=30)
    if calls[0] != len(seen):
        print(f"{calls[0] - len(seen)} redeliveries")
    if disorder[0]:
        print(f"{disorder[0]} messages out of order within their ordering key")
    return len(seen), elapsed


def run_pull(subscriber, sub, n):
    seen = set()
    start = time.monotonic()
    while len(seen) < n:
        resp = subscriber.pull(subscription=sub, max_messages=1000, timeout=30)
        if not resp.received_messages:
            continue
        seen.update(m.message.message_id for m in resp.received_messages)
        subscriber.acknowledge(subscription=sub, ack_ids=[m.ack_id for m in resp.received_messages])
    return len(seen), time.monotonic() - start


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["subscribe", "pull", "idle", "idle-streams"], required=True)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--subscriptions", type=int, default=3, help="idle mode: subscriptions holding the backlog")
    ap.add_argument("--seconds", type=float, default=10, help="idle mode: how long to measure")
    ap.add_argument("--pid", type=int, help="idle mode: the emulator's process id")
    ap.add_argument("--exactly-once", action="store_true",
                    help="subscribe mode: an exactly-once subscription, acking with ack_with_response()")
    ap.add_argument("--ordering-keys", type=int, default=0,
                    help="publish with this many ordering keys to a subscription with message ordering")
    args = ap.parse_args()

    publisher = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1000, max_latency=0.05),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=args.ordering_keys > 0))
    subscriber = pubsub_v1.SubscriberClient()
    idle = args.mode.startswith("idle")
    topic, subs = create(publisher, subscriber, args.subscriptions if idle else 1, args.ordering_keys > 0,
                         args.exactly_once)
    publish(publisher, topic, args.messages, args.ordering_keys)
    try:
        if idle:
            streams = []
            if args.mode == "idle-streams":
                streams = [subscriber.subscribe(s, lambda m: m.ack()) for s in subs]
                time.sleep(1)
            time.sleep(1)
            before = cpu_seconds(args.pid)
            time.sleep(args.seconds)
            used = cpu_seconds(args.pid) - before
            for f in streams:
                f.cancel()
            print(f"{args.mode}: {args.messages} messages backlog on {len(subs)} subscriptions: "
                  f"{used:.2f} s CPU in {args.seconds:.0f} s = {100 * used / args.seconds:.1f} % of a core")
            return
        if args.mode == "subscribe":
            got, elapsed = run_subscribe(subscriber, subs[0], args.messages, args.exactly_once)
        else:
            got, elapsed = run_pull(subscriber, subs[0], args.messages)
        keys = f" ({args.ordering_keys} ordering keys)" if args.ordering_keys else ""
        keys += " (exactly-once)" if args.exactly_once else ""
        print(f"{args.mode}{keys}: {got} of {args.messages} messages in {elapsed:.2f} s = {got / elapsed:,.0f} msg/s")
    finally:
        for s in subs:
            subscriber.delete_subscription(subscription=s)
        publisher.delete_topic(topic=topic)


if __name__ == "__main__":
    main()
