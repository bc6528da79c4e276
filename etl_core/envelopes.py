"""Pub/Sub envelopes: the message inside a `messagePublished` CloudEvent's data.

Unwrapping is separate from parsing the event so that a caller still holds the original message
bytes (to dead-letter them) when the event inside turns out to be invalid.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from etl_core.errors import InvalidEvent, Reason


@dataclass(frozen=True, slots=True)
class PubSubMessage:
    """One Pub/Sub message as delivered: `data` is the decoded payload, not base64."""

    data: bytes
    message_id: str | None
    attributes: Mapping[str, str]
    publish_time: str | None
    ordering_key: str | None


def _bad(message: str) -> InvalidEvent:
    return InvalidEvent(Reason.BAD_ENVELOPE, message)


def unwrap_cloud_event(data: Mapping[str, object], *, event_id: str | None = None) -> PubSubMessage:
    """The message in the `data` of a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent.

    `data` is `{"message": {...}, "subscription": ...}`, the shape of a push body. The message
    needs base64 `data`; `messageId` (or `message_id`), `publishTime` (`publish_time`),
    `attributes` and `orderingKey` are optional. Anything else: BAD_ENVELOPE.

    When functions-framework converts a push body into a CloudEvent, `data.message` has no
    `messageId`: the id moved to the CloudEvent's `id`. Pass that as `event_id`; it is used only
    when the message itself carries no id (a real Eventarc event does).
    """
    return _unwrap(data, fallback_id=event_id)


def _unwrap(envelope: object, *, fallback_id: str | None) -> PubSubMessage:
    if not isinstance(envelope, Mapping):
        raise _bad(f"envelope must be an object, not {type(envelope).__name__}")
    message = envelope.get("message")
    if not isinstance(message, Mapping):
        raise _bad("envelope has no message object")
    message_id = _optional_str(message, "messageId", "message_id") or _fallback(fallback_id)
    return PubSubMessage(
        data=_data(message.get("data")),
        message_id=message_id,
        attributes=_attributes(message.get("attributes")),
        publish_time=_optional_str(message, "publishTime", "publish_time"),
        ordering_key=_optional_str(message, "orderingKey", "ordering_key") or None,
    )


def _data(value: object) -> bytes:
    if not isinstance(value, str):
        raise _bad("message.data must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise _bad(f"message.data is not base64: {err}") from None


def _attributes(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad("message.attributes must be an object")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _bad("message.attributes must map strings to strings")
    return dict(value)


def _optional_str(message: Mapping[str, object], *names: str) -> str | None:
    for name in names:
        value = message.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise _bad(f"message.{name} must be a string")
        return value
    return None


def _fallback(event_id: object) -> str | None:
    if event_id is not None and not isinstance(event_id, str):
        raise _bad("CloudEvent id must be a string")
    return event_id or None
