"""`etl record` then `etl publish --replay`, as a user runs them, against the emulators: what is
replayed is what was recorded (data, attributes, ordering keys, order), spaced as recorded divided
by the speed factor, and the temporary subscription is gone however the recording ended.

Timing is asserted loosely (the order of the gaps, and bounds that hold on a loaded machine): a
replay never publishes early, but it can publish late."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import pytest
from google.api_core import exceptions as gexc

from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import Settings
from etl_harness.emulators.pair import Hosts
from etl_harness.recording import RecordedMessage, read
from tests.e2e.cli import etl

GAPS_S = (0.1, 0.1, 1.6, 0.1, 0.1)
"""Pauses between the published messages: one long gap among short ones."""
SPEED_FACTOR = 2.0
SPEED = ("--speed-factor", str(SPEED_FACTOR))


class Recorder:
    """`etl record … --json` in a process of its own; `ready` once its subscription exists."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "etl_harness", "record", *args, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        if not self.ready.wait(60):
            self.proc.kill()
            pytest.fail(f"etl record never became ready:\n{''.join(self.stderr)}")

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            if line.startswith("ready:"):
                self.ready.set()

    def summary(self, timeout: float = 60) -> dict[str, Any]:
        """The `--json` summary, once the process has ended with exit status 0."""
        assert self.proc.stdout is not None
        code = self.proc.wait(timeout)  # the summary is far below a pipe's buffer
        out = self.proc.stdout.read()
        self._reader.join(10)
        assert code == 0, "".join(self.stderr)[-2000:]
        assert not [line for line in self.stderr if not line.startswith("ready:")], self.stderr
        summary: dict[str, Any] = json.loads(out)
        return summary


@pytest.fixture
def topic(bus: PubSub, etl_unique_name: Callable[[str], str]) -> str:
    name = etl_unique_name("recorded")
    bus.ensure_topic(name)
    return name


@pytest.fixture
def env(etl_emulator_hosts: Hosts, settings: Settings) -> dict[str, str]:
    """The CLI on this test's own project (`settings`)."""
    return {
        **os.environ,
        **etl_emulator_hosts.env(),
        "GOOGLE_CLOUD_PROJECT": settings.project,
        "ETL_STAGE": settings.stage,
    }


@pytest.fixture
def recorder(env: dict[str, str]) -> Iterator[Callable[..., Recorder]]:
    started: list[Recorder] = []

    def start(*args: str) -> Recorder:
        started.append(Recorder(list(args), env))
        return started[-1]

    yield start
    for rec in started:
        if rec.proc.poll() is None:
            rec.proc.kill()
        rec.proc.wait(30)
        for pipe in (rec.proc.stdout, rec.proc.stderr):
            assert pipe is not None
            pipe.close()


def published(i: int) -> Outgoing:
    """Bytes that are not UTF-8, attributes, and two ordering keys."""
    return Outgoing(
        bytes([0, 255, i]) + f" message {i}".encode(),
        ordering_key=("siteA", "siteB")[i % 2],
        attributes={"seq": str(i), "source": "gate-2"},
    )


def publish_spaced(bus: PubSub, topic: str) -> list[Outgoing]:
    """One message at a time, each waited for, then the gap before the next."""
    sent = []
    for i, gap in enumerate((*GAPS_S, 0.0)):
        sent.append(published(i))
        bus.publish(topic, [sent[-1]])
        time.sleep(gap)
    return sent


def subscriptions_of(bus: PubSub, topic: str) -> list[str]:
    return list(bus.publisher.list_topic_subscriptions(topic=bus.topic_path(topic)))


def as_sent(messages: list[RecordedMessage]) -> list[Outgoing]:
    return [Outgoing(m.data, m.ordering_key, dict(m.attributes)) for m in messages]


def gaps(messages: list[RecordedMessage]) -> list[float]:
    times = [m.publish_time for m in messages]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def pull_all(
    subscriber: pubsub_v1.SubscriberClient, path: str, count: int
) -> list[RecordedMessage]:
    """`count` messages of the subscription, sorted by publish time (delivery order is random)."""
    got: dict[str, RecordedMessage] = {}
    deadline = time.monotonic() + 60
    while len(got) < count and time.monotonic() < deadline:
        response = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=10)
        for r in response.received_messages:
            m = r.message
            got[m.message_id] = RecordedMessage(
                bytes(m.data), m.publish_time, dict(m.attributes), m.ordering_key, m.message_id
            )
        if response.received_messages:
            ack_ids = [r.ack_id for r in response.received_messages]
            subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})
    return sorted(got.values(), key=lambda m: m.publish_time)


def test_a_replay_publishes_what_was_recorded_in_order_with_the_gaps_scaled(
    bus: PubSub,
    etl_subscriber: pubsub_v1.SubscriberClient,
    topic: str,
    env: dict[str, str],
    recorder: Callable[..., Recorder],
    etl_unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    out = tmp_path / "recording.jsonl"
    rec = recorder(topic, "--out", str(out), "--limit", str(len(GAPS_S) + 1))
    sent = publish_spaced(bus, topic)
    summary = rec.summary()
    assert summary["recorded"] == len(sent)
    assert summary["stopped"] == "limit"
    assert summary["topic"] == topic
    assert subscriptions_of(bus, topic) == [], "the temporary subscription was deleted"
    with pytest.raises(gexc.NotFound):
        etl_subscriber.get_subscription(subscription=bus.subscription_path(summary["subscription"]))

    recording = read(out)
    recorded = list(recording.messages)
    assert recording.topic == topic
    assert as_sent(recorded) == sent, "data, attributes and ordering keys, in publish order"
    recorded_gaps = gaps(recorded)
    assert all(got >= planned for got, planned in zip(recorded_gaps, GAPS_S, strict=True))

    replayed_into = bus.ensure_subscription(etl_unique_name("replayed"), topic, dead_letter=False)
    replay = etl("publish", str(out), "--replay", *SPEED, "--json", env=env)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert json.loads(replay.stdout) == {
        "published": len(sent),
        "topic": topic,
        "speed_factor": SPEED_FACTOR,
    }
    replayed = pull_all(etl_subscriber, replayed_into, len(sent))
    assert as_sent(replayed) == sent, "the same messages, in the same order"
    replayed_gaps = gaps(replayed)
    longest = recorded_gaps.index(max(recorded_gaps))
    assert replayed_gaps.index(max(replayed_gaps)) == longest
    assert replayed_gaps[longest] >= 0.5 * recorded_gaps[longest] / SPEED_FACTOR
    assert sum(replayed_gaps) < sum(recorded_gaps), "twice as fast: shorter than recorded"


def test_ctrl_c_ends_a_recording_with_a_complete_file_and_no_subscription_left(
    bus: PubSub, topic: str, recorder: Callable[..., Recorder], tmp_path: Path
) -> None:
    out = tmp_path / "interrupted.jsonl"
    rec = recorder(topic, "--out", str(out))
    sent = [published(i) for i in range(3)]
    bus.publish(topic, sent)
    time.sleep(1)  # the recorder may or may not have pulled them all by now: both are fine
    rec.proc.send_signal(signal.SIGINT)
    summary = rec.summary()
    assert summary["stopped"] == "interrupted"
    assert subscriptions_of(bus, topic) == []
    recorded = as_sent(list(read(out).messages))
    assert len(recorded) == summary["recorded"] <= len(sent)
    assert all(m in sent for m in recorded)


def test_a_duration_ends_a_recording_of_a_quiet_topic_with_an_empty_file(
    bus: PubSub, topic: str, recorder: Callable[..., Recorder], tmp_path: Path
) -> None:
    out = tmp_path / "quiet.jsonl"
    summary = recorder(topic, "--out", str(out), "--duration", "1").summary()
    assert (summary["recorded"], summary["stopped"]) == (0, "duration")
    assert read(out).messages == ()
    assert subscriptions_of(bus, topic) == []
