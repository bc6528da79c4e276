"""The dead-letter topic, read for people: `etl dead-letters`, `etl status` and the inspector.

Listing never consumes: pulled letters are released at once, and a missing reader subscription
means none were kept (nothing is created by a read).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc

from etl.adapters.pubsub import PubSub

READER = "deadletter-reader"
"""The etl.toml consumer whose subscription keeps a copy of every dead letter for listing."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message on the dead-letter topic, as `etl dead-letters` lists it."""

    reason: str
    detail: str
    data: bytes
    message_id: str
    attributes: Mapping[str, str]

    @classmethod
    def of(cls, message_id: str, data: bytes, attributes: Mapping[str, str]) -> DeadLetter:
        """A message of the dead-letter topic: ours carry `reason`; Pub/Sub's own (after too
        many delivery attempts) carry none."""
        attrs = dict(attributes)
        return cls(
            reason=attrs.get("reason", "delivery_failed"),
            detail=attrs.get("detail", "max delivery attempts reached"),
            data=data,
            message_id=attrs.get("originalMessageId") or message_id,
            attributes=attrs,
        )

    def as_json(self) -> dict[str, Any]:
        try:
            text: str | None = self.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "reason": self.reason,
            "detail": self.detail,
            "data": text,
            "data_base64": base64.b64encode(self.data).decode(),
            "message_id": self.message_id,
            "attributes": dict(self.attributes),
        }


def pulled(bus: PubSub, max_messages: int = 1000) -> list[DeadLetter]:
    """Every dead letter of the reader subscription, pulled and released again at once."""
    path = bus.subscription_path(bus.settings.subscription(READER))
    seen: dict[str, DeadLetter] = {}
    ack_ids: list[str] = []
    while len(seen) < max_messages:
        try:
            response = bus.subscriber.pull(
                request={"subscription": path, "max_messages": 500}, timeout=10
            )
        except gexc.NotFound:
            return []
        before = len(seen)
        if not response.received_messages:
            break
        for received in response.received_messages:
            ack_ids.append(received.ack_id)
            msg = received.message
            letter = DeadLetter.of(msg.message_id, bytes(msg.data), msg.attributes)
            seen.setdefault(letter.message_id, letter)
        if len(seen) == before:
            break  # only redeliveries of letters already listed: the backlog is drained
    for start in range(0, len(ack_ids), 500):
        bus.subscriber.modify_ack_deadline(
            request={
                "subscription": path,
                "ack_ids": ack_ids[start : start + 500],
                "ack_deadline_seconds": 0,
            }
        )
    return list(seen.values())


def from_admin_log(raw: Iterable[Mapping[str, Any]]) -> list[DeadLetter]:
    """Dead letters from the admin API's log of the dead-letter topic, one per original message
    (Pub/Sub may dead-letter a message twice)."""
    seen: dict[str, DeadLetter] = {}
    for message in raw:
        letter = DeadLetter.of(
            str(message.get("id", "")),
            base64.b64decode(message.get("data_base64", "")),
            message.get("attributes") or {},
        )
        seen.setdefault(letter.message_id, letter)
    return list(seen.values())
