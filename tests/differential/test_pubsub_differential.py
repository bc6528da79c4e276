"""Pub/Sub, ours against Google's: random sequences of admin and delivery calls, each sent to both
emulators, their gRPC codes and normalised responses compared (`compare.both`).

Each example works in a project of its own, so the emulators need no reset between examples.
Resource ids come from a small pool (collisions give ALREADY_EXISTS and NOT_FOUND paths) plus
ids production refuses. What is normalised away and why:

- message ids, publish times and ack ids: each emulator makes its own (`messages` pairs the ack
  ids by body: every published body is unique);
- the order of pulled messages and of listed resources: production leaves both unspecified;
- error messages: only the gRPC code is compared.

Leases are kept far from expiry (ack deadlines of 300-600 s) so nothing depends on the clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.pubsub_v1 import types as ps
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.differential.compare import Compared, both
from tests.differential.conftest import budget
from tests.differential.sides import Side

PULL_ROUNDS = 20
"""A drain pulls until an empty answer, at most this often."""

VALID_IDS = ("alpha", "beta-1", "gamma.x")
INVALID_IDS = ("ab", "1abc", "goog-topic", "has space", "x" * 256)
"""Production: 3-255 characters, a letter first, [A-Za-z0-9-_.~+%], not starting with `goog`."""

ids = st.one_of(st.sampled_from(VALID_IDS), st.sampled_from(INVALID_IDS))
VALID_DEADLINES = (300, 600)
deadlines = st.sampled_from((*VALID_DEADLINES, -1, 5, 601))
"""Valid ack deadlines far from expiry, and refused ones (production: 10-600 s; 0 is the
default of 10 s, left out: a lease that short would make the run depend on the clock)."""
VALID_RETENTIONS = (None, 600, 86_400)
retentions = st.sampled_from((*VALID_RETENTIONS, 599, 40 * 86_400))
"""Seconds: unset, valid (10 min-7 days for subscriptions, to 31 days for topics), refused."""
labels = st.dictionaries(
    st.sampled_from(("env", "team", "Bad", "k" * 64)), st.sampled_from(("a", "b-1", "")), max_size=2
)
dead_letters = st.sampled_from((None, ("beta-1", 5), ("beta-1", 4), ("alpha", 101)))
"""Dead-lettering to a topic after 5 attempts, and attempts production refuses (5-100)."""
SUBSCRIPTION_PATHS = ("ack_deadline_seconds", "retain_acked_messages", "labels", "no_such_field")
TOPIC_PATHS = ("labels", "no_such_field")
modack_deadlines = st.sampled_from((0, 300, 600, -1, 601))
seek_times = st.sampled_from((datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)))
"""Far past (every retained message unacked again) and far future (all acked): the same effect
whatever each emulator's own publish times."""

_projects = itertools.count()


def _duration(seconds: int | None) -> duration_pb2.Duration | None:
    return None if seconds is None else duration_pb2.Duration(seconds=seconds)


def _plain(message: Any) -> dict[str, Any] | None:
    if message is None:  # Empty responses (deletes, acks) come back as None
        return None
    return dict(type(message).to_dict(message, preserving_proto_field_name=True))


def _resource(response: Any) -> dict[str, Any] | None:
    return _plain(response)


def _received(response: list[ps.ReceivedMessage]) -> list[tuple[bytes, dict[str, str], str, int]]:
    """Bodies, attributes, ordering keys and delivery attempts, by body: ids, ack ids and publish
    times are each emulator's own, and production delivers in no promised order."""
    return sorted(
        (m.message.data, dict(m.message.attributes), m.message.ordering_key, m.delivery_attempt)
        for m in response
    )


def _snapshot(snapshot: Any) -> dict[str, Any] | None:
    """A snapshot without its expiry time, which each emulator computes from its own clock."""
    plain = _plain(snapshot)
    if plain is not None:
        plain.pop("expire_time", None)
    return plain


def drain(side: Side, subscription: str) -> list[ps.ReceivedMessage]:
    """Pull until an empty answer: everything deliverable now, whatever the batch sizes."""
    got: list[ps.ReceivedMessage] = []
    for _ in range(PULL_ROUNDS):
        response = side.subscriber.pull(
            request={"subscription": subscription, "max_messages": 100, "return_immediately": True},
            retry=None,
            timeout=30,
        )
        if not response.received_messages:
            break
        got.extend(response.received_messages)
    return got


class PubSubMachine(RuleBasedStateMachine):
    """Both emulators driven through the same calls, in one project per example."""

    def __init__(self, pair: tuple[Side, Side]) -> None:
        super().__init__()
        self.pair = pair
        self.project = f"projects/diff-{next(_projects)}"
        self.topics: set[str] = set()
        self.subscriptions: set[str] = set()
        self.snapshots: set[str] = set()
        self.ack_ids: dict[str, dict[bytes, tuple[str, str]]] = {}
        """Per subscription: a delivered body → (our ack id, Google's ack id)."""
        self.bodies = itertools.count()

    def topic(self, topic_id: str) -> str:
        return f"{self.project}/topics/{topic_id}"

    def subscription(self, sub_id: str) -> str:
        return f"{self.project}/subscriptions/{sub_id}"

    def snapshot(self, snap_id: str) -> str:
        return f"{self.project}/snapshots/{snap_id}"

    def call(
        self,
        method: str,
        call: Callable[[Side], Any],
        normalise: Callable[[Any], Any] = _resource,
        *tags: str,
    ) -> Compared:
        return both(self.pair, method, call, normalise, frozenset(tags))

    def tags(
        self,
        *,
        topics: tuple[str, ...] = (),
        subs: tuple[str, ...] = (),
        snaps: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        """`malformed` if an id is one production refuses, `missing` if a resource named does
        not exist (for `check_order`)."""
        named = (*topics, *subs, *snaps)
        malformed = any(i in INVALID_IDS for i in named)
        missing = (
            any(t not in self.topics for t in topics)
            or any(s not in self.subscriptions for s in subs)
            or any(s not in self.snapshots for s in snaps)
        )
        return ("malformed",) * malformed + ("missing",) * missing

    def missing_topic(self, topic_id: str) -> str:
        """The tag of a call naming `topic_id`: `missing` when it does not exist."""
        return "" if topic_id in self.topics else "missing"

    def existing_topic(self, topic_id: str) -> str:
        """The tag of a call creating `topic_id`: `exists` when it does."""
        return "exists" if topic_id in self.topics else ""

    def publisher(self, method: str, request: Any) -> Callable[[Side], Any]:
        return lambda side: getattr(side.publisher, method)(request=request, retry=None, timeout=30)

    def subscriber(self, method: str, request: Any) -> Callable[[Side], Any]:
        return lambda side: getattr(side.subscriber, method)(
            request=request, retry=None, timeout=30
        )

    # --- topics ---------------------------------------------------------------------------

    @initialize()
    def start_with_a_topic(self) -> None:
        self.create_topic("alpha", None, {})

    @rule(topic_id=ids, retention=retentions, topic_labels=labels)
    def create_topic(
        self, topic_id: str, retention: int | None, topic_labels: dict[str, str]
    ) -> None:
        request = ps.Topic(
            name=self.topic(topic_id),
            labels=topic_labels,
            message_retention_duration=_duration(retention),
        )
        malformed = "" if retention in VALID_RETENTIONS else "malformed"
        tags = (malformed, self.existing_topic(topic_id))
        if self.call("create_topic", self.publisher("create_topic", request), _resource, *tags).ok:
            self.topics.add(topic_id)

    @rule(topic_id=ids)
    def get_topic(self, topic_id: str) -> None:
        self.call("get_topic", self.publisher("get_topic", {"topic": self.topic(topic_id)}))

    @rule(topic_id=ids)
    def delete_topic(self, topic_id: str) -> None:
        request = {"topic": self.topic(topic_id)}
        if self.call("delete_topic", self.publisher("delete_topic", request)).ok:
            self.topics.discard(topic_id)

    # --- publish and delivery ---------------------------------------------------------------

    @rule(
        topic_id=ids,
        count=st.integers(0, 3),
        attributes=st.dictionaries(
            st.sampled_from(("k", "site")), st.sampled_from(("v", "")), max_size=2
        ),
        empty=st.booleans(),
        ordering_key=st.sampled_from(("", "", "key-1")),
    )
    def publish(
        self, topic_id: str, count: int, attributes: dict[str, str], empty: bool, ordering_key: str
    ) -> None:
        messages = [
            ps.PubsubMessage(
                data=b"" if empty else f"m{next(self.bodies)}".encode(),
                attributes=attributes,
                ordering_key=ordering_key,
            )
            for _ in range(count)
        ]
        request = {"topic": self.topic(topic_id), "messages": messages}
        malformed = "malformed" if count == 0 or empty else ""
        self.call(
            "publish",
            self.publisher("publish", request),
            lambda r: len(r.message_ids),
            malformed,
            self.missing_topic(topic_id),
        )

    @rule(sub_id=ids)
    def pull_everything(self, sub_id: str) -> None:
        name = self.subscription(sub_id)
        compared = self.call("pull", lambda side: drain(side, name), _received)
        if compared.ok:
            ours = {m.message.data: m.ack_id for m in compared.ours.raw}
            google = {m.message.data: m.ack_id for m in compared.google.raw}
            self.ack_ids.setdefault(sub_id, {}).update(
                {body: (ours[body], google[body]) for body in ours}
            )

    def _leased(self, sub_id: str, data: st.DataObject) -> list[tuple[str, str]]:
        held = self.ack_ids.get(sub_id, {})
        bodies = (
            data.draw(st.lists(st.sampled_from(sorted(held)), max_size=3, unique=True))
            if held
            else []
        )
        return [held[body] for body in bodies]

    def on_leased(self, method: str, data: st.DataObject, **fields: Any) -> None:
        """`method` (acknowledge, modify_ack_deadline) on some messages one drain delivered, each
        side with its own ack ids."""
        sub_id = data.draw(st.sampled_from(sorted(k for k, v in self.ack_ids.items() if v)))
        leased = self._leased(sub_id, data)
        name = self.subscription(sub_id)

        def call(side: Side) -> Any:
            ack_ids = [pair[side.name == "google"] for pair in leased]
            request = {"subscription": name, "ack_ids": ack_ids, **fields}
            return getattr(side.subscriber, method)(request=request, retry=None, timeout=30)

        self.call(method, call, lambda r: r)

    @precondition(lambda self: any(self.ack_ids.values()))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        self.on_leased("acknowledge", data)

    # --- subscriptions ----------------------------------------------------------------------

    @rule(
        sub_id=ids,
        topic_id=ids,
        deadline=deadlines,
        retain_acked=st.booleans(),
        retention=retentions,
        exactly_once=st.booleans(),
        dead_letter=dead_letters,
    )
    def create_subscription(
        self,
        sub_id: str,
        topic_id: str,
        deadline: int,
        retain_acked: bool,
        retention: int | None,
        exactly_once: bool,
        dead_letter: tuple[str, int] | None,
    ) -> None:
        request = ps.Subscription(
            name=self.subscription(sub_id),
            topic=self.topic(topic_id),
            ack_deadline_seconds=deadline,
            retain_acked_messages=retain_acked,
            message_retention_duration=_duration(retention),
            enable_exactly_once_delivery=exactly_once,
        )
        valid = deadline in VALID_DEADLINES and retention in VALID_RETENTIONS
        topics: tuple[str, ...] = (topic_id,)
        if dead_letter is not None:
            request.dead_letter_policy = ps.DeadLetterPolicy(
                dead_letter_topic=self.topic(dead_letter[0]), max_delivery_attempts=dead_letter[1]
            )
            valid = valid and 5 <= dead_letter[1] <= 100
            topics += (dead_letter[0],)
        compared = self.call(
            "create_subscription",
            self.subscriber("create_subscription", request),
            _resource,
            "" if valid else "malformed",
            "exists" if sub_id in self.subscriptions else "",
            *self.tags(topics=topics),
        )
        if compared.ok:
            self.subscriptions.add(sub_id)

    @rule(sub_id=ids)
    def get_subscription(self, sub_id: str) -> None:
        request = {"subscription": self.subscription(sub_id)}
        self.call("get_subscription", self.subscriber("get_subscription", request))

    @rule(sub_id=ids)
    def delete_subscription(self, sub_id: str) -> None:
        request = {"subscription": self.subscription(sub_id)}
        if self.call("delete_subscription", self.subscriber("delete_subscription", request)).ok:
            self.forget(sub_id)

    def forget(self, sub_id: str) -> None:
        self.subscriptions.discard(sub_id)
        self.ack_ids.pop(sub_id, None)

    @rule(
        sub_id=ids,
        paths=st.lists(st.sampled_from(SUBSCRIPTION_PATHS), max_size=2, unique=True),
        deadline=deadlines,
        retain_acked=st.booleans(),
        sub_labels=labels,
    )
    def update_subscription(
        self,
        sub_id: str,
        paths: list[str],
        deadline: int,
        retain_acked: bool,
        sub_labels: dict[str, str],
    ) -> None:
        subscription = ps.Subscription(
            name=self.subscription(sub_id),
            ack_deadline_seconds=deadline,
            retain_acked_messages=retain_acked,
            labels=sub_labels,
        )
        request = {
            "subscription": subscription,
            "update_mask": field_mask_pb2.FieldMask(paths=paths),
        }
        malformed = (
            not paths
            or "no_such_field" in paths
            or ("ack_deadline_seconds" in paths and deadline not in VALID_DEADLINES)
        )
        missing = sub_id not in self.subscriptions
        labelled = "labels" if "labels" in paths else ""
        tags = ("malformed" if malformed else "", "missing" if missing else "", labelled)
        compared = self.call(
            "update_subscription", self.subscriber("update_subscription", request), _resource, *tags
        )
        if "labels-not-updatable" in compared.known:
            ours, google = self.pair
            rest = [path for path in paths if path != "labels"]
            if rest:
                google.subscriber.update_subscription(
                    request={**request, "update_mask": field_mask_pb2.FieldMask(paths=rest)}
                )
            kept = google.subscriber.get_subscription(subscription=subscription.name).labels
            ours.subscriber.update_subscription(
                request={
                    "subscription": ps.Subscription(name=subscription.name, labels=kept),
                    "update_mask": field_mask_pb2.FieldMask(paths=["labels"]),
                }
            )

    @rule(
        topic_id=ids,
        paths=st.lists(st.sampled_from(TOPIC_PATHS), max_size=2, unique=True),
        topic_labels=labels,
    )
    def update_topic(self, topic_id: str, paths: list[str], topic_labels: dict[str, str]) -> None:
        topic = ps.Topic(name=self.topic(topic_id), labels=topic_labels)
        request = {"topic": topic, "update_mask": field_mask_pb2.FieldMask(paths=paths)}
        labelled = "labels" if "labels" in paths else ""
        malformed = "malformed" if not paths or "no_such_field" in paths else ""
        tags = (malformed, self.missing_topic(topic_id), labelled)
        compared = self.call(
            "update_topic", self.publisher("update_topic", request), _resource, *tags
        )
        if "labels-not-updatable" in compared.known:  # ours changed the labels, Google's not
            ours, google = self.pair
            kept = google.publisher.get_topic(topic=topic.name).labels
            ours.publisher.update_topic(
                request={
                    "topic": ps.Topic(name=topic.name, labels=kept),
                    "update_mask": field_mask_pb2.FieldMask(paths=["labels"]),
                }
            )

    @rule(sub_id=ids)
    def detach_subscription(self, sub_id: str) -> None:
        """Google's emulator has no Detach (a known difference): whatever it did, the
        subscription is deleted on both sides after, so they stay in step."""
        request = {"subscription": self.subscription(sub_id)}
        compared = self.call("detach_subscription", self.publisher("detach_subscription", request))
        if compared.known and compared.ours.ok:
            for side in self.pair:
                side.subscriber.delete_subscription(request=request, retry=None, timeout=30)
            self.forget(sub_id)

    @rule()
    def list_everything(self) -> None:
        project = {"project": self.project}
        self.call(
            "list_topics",
            lambda side: list(side.publisher.list_topics(request=project, retry=None, timeout=30)),
            lambda topics: sorted(t.name for t in topics),
        )
        self.call(
            "list_subscriptions",
            lambda side: list(
                side.subscriber.list_subscriptions(request=project, retry=None, timeout=30)
            ),
            lambda subs: sorted(sub.name for sub in subs),  # each one is compared by get
        )

    @rule(topic_id=ids)
    def list_topic_subscriptions(self, topic_id: str) -> None:
        request = {"topic": self.topic(topic_id)}
        self.call(
            "list_topic_subscriptions",
            lambda side: list(
                side.publisher.list_topic_subscriptions(request=request, retry=None, timeout=30)
            ),
            sorted,
        )

    # --- leases, seek and snapshots ---------------------------------------------------------

    @precondition(lambda self: any(self.ack_ids.values()))
    @rule(data=st.data(), deadline=modack_deadlines)
    def modify_ack_deadline(self, data: st.DataObject, deadline: int) -> None:
        """A deadline of 0 is a nack: the message is delivered again at the next pull."""
        self.on_leased("modify_ack_deadline", data, ack_deadline_seconds=deadline)

    @rule(sub_id=ids, when=seek_times)
    def seek_to_a_time(self, sub_id: str, when: datetime) -> None:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(when)
        request = {"subscription": self.subscription(sub_id), "time": stamp}
        self.call("seek", self.subscriber("seek", request))

    @rule(sub_id=ids, snap_id=ids)
    def seek_to_a_snapshot(self, sub_id: str, snap_id: str) -> None:
        request = {"subscription": self.subscription(sub_id), "snapshot": self.snapshot(snap_id)}
        tags = self.tags(subs=(sub_id,), snaps=(snap_id,))
        self.call("seek", self.subscriber("seek", request), _resource, *tags)

    @rule(snap_id=ids, sub_id=ids)
    def create_snapshot(self, snap_id: str, sub_id: str) -> None:
        request = {"name": self.snapshot(snap_id), "subscription": self.subscription(sub_id)}
        tags = self.tags(subs=(sub_id,), snaps=(snap_id,))
        if snap_id in self.snapshots:
            tags += ("exists",)
        compared = self.call(
            "create_snapshot", self.subscriber("create_snapshot", request), _snapshot, *tags
        )
        if compared.ok:
            self.snapshots.add(snap_id)

    @rule(topic_id=ids)
    def list_snapshots(self, topic_id: str) -> None:
        project, topic = {"project": self.project}, {"topic": self.topic(topic_id)}
        self.call(
            "list_snapshots",
            lambda side: list(
                side.subscriber.list_snapshots(request=project, retry=None, timeout=30)
            ),
            lambda snapshots: sorted(snap.name for snap in snapshots),
        )
        self.call(
            "list_topic_snapshots",
            lambda side: list(
                side.publisher.list_topic_snapshots(request=topic, retry=None, timeout=30)
            ),
            sorted,
            *self.tags(topics=(topic_id,)),
        )

    @rule(snap_id=ids)
    def get_snapshot(self, snap_id: str) -> None:
        request = {"snapshot": self.snapshot(snap_id)}
        self.call("get_snapshot", self.subscriber("get_snapshot", request), _snapshot)

    @rule(snap_id=ids)
    def delete_snapshot(self, snap_id: str) -> None:
        request = {"snapshot": self.snapshot(snap_id)}
        if self.call("delete_snapshot", self.subscriber("delete_snapshot", request)).ok:
            self.snapshots.discard(snap_id)


def test_random_pubsub_call_sequences_answer_as_googles_emulator_does(
    sides: tuple[Side, Side],
) -> None:
    run_state_machine_as_test(lambda: PubSubMachine(sides), settings=budget())
