"""Unwrapping Pub/Sub push bodies and `messagePublished` CloudEvents."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_core import (
    Event,
    InvalidEvent,
    PubSubMessage,
    Reason,
    parse_cloud_event,
    parse_event,
    parse_push_body,
    unwrap_cloud_event,
    unwrap_push_body,
)
from etl_core import events as events_module
from tests.unit.core.core_strategies import NOW, json_values, short_text

PAYLOAD = b'{"service":"acceso-sur","eventTime":"2024-05-06T08:00:00.000Z","event":-1}'


def push_body(**message: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"data": base64.b64encode(PAYLOAD).decode(), "messageId": "m-1"}
    fields.update(message)
    return {"message": {k: v for k, v in fields.items() if v is not ...}, "subscription": "s"}


def envelope_reason(body: object) -> Reason:
    with pytest.raises(InvalidEvent) as caught:
        unwrap_push_body(body)  # type: ignore[arg-type]
    return caught.value.reason


def test_a_push_body_unwraps_to_its_decoded_message_with_every_field() -> None:
    body = push_body(
        attributes={"k": "v"}, publishTime="2024-05-06T08:00:01Z", orderingKey="acceso-sur"
    )
    expected = PubSubMessage(PAYLOAD, "m-1", {"k": "v"}, "2024-05-06T08:00:01Z", "acceso-sur")
    assert unwrap_push_body(body) == expected
    assert unwrap_push_body(json.dumps(body).encode()) == expected


def test_snake_case_field_names_are_accepted_too() -> None:
    body = push_body(messageId=..., message_id="m-2", publish_time="t", ordering_key="k")
    message = unwrap_push_body(body)
    assert (message.message_id, message.publish_time, message.ordering_key) == ("m-2", "t", "k")


def test_absent_optional_fields_are_none_or_empty_and_an_empty_ordering_key_is_none() -> None:
    message = unwrap_push_body(push_body(messageId=..., attributes=None, orderingKey=""))
    assert message == PubSubMessage(PAYLOAD, None, {}, None, None)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff",
        b"[1]",
        {"message": None},
        {"message": "text"},
        {"subscription": "s"},
        push_body(data=...),
        push_body(data=None),
        push_body(data=5),
        push_body(data="not base64!"),
        push_body(data="abc"),
        push_body(data="ñ"),
        push_body(attributes=["k"]),
        push_body(attributes={"k": 1}),
        push_body(messageId=7),
        push_body(publishTime=1.5),
    ],
)
def test_a_malformed_push_body_is_a_bad_envelope(body: object) -> None:
    assert envelope_reason(body) == Reason.BAD_ENVELOPE


def test_a_converted_cloud_event_takes_its_message_id_from_the_cloud_event_id() -> None:
    data = push_body(messageId=...)
    assert unwrap_cloud_event(data, event_id="ce-9").message_id == "ce-9"
    assert unwrap_cloud_event(data).message_id is None


def test_an_eventarc_cloud_event_keeps_the_message_id_it_carries() -> None:
    assert unwrap_cloud_event(push_body(), event_id="ce-9").message_id == "m-1"


def test_a_cloud_event_that_is_not_a_mapping_or_has_a_bad_id_is_a_bad_envelope() -> None:
    for data, event_id in (("text", None), (None, None), (push_body(messageId=...), 5)):
        with pytest.raises(InvalidEvent) as caught:
            unwrap_cloud_event(data, event_id=event_id)  # type: ignore[arg-type]
        assert caught.value.reason == Reason.BAD_ENVELOPE


def test_parse_push_body_and_parse_cloud_event_identify_the_event_by_message_id() -> None:
    expected = parse_event(PAYLOAD, now=NOW, message_id="m-1")
    assert parse_push_body(push_body(), now=NOW) == expected
    assert parse_cloud_event(push_body(messageId=...), now=NOW, event_id="m-1") == expected
    assert expected == Event(expected.service, expected.event_time, -1, "m-1")


def test_a_redelivered_message_parses_to_an_equal_event() -> None:
    assert parse_push_body(push_body(), now=NOW) == parse_push_body(push_body(), now=NOW)


def test_the_events_module_re_exports_the_envelope_api() -> None:
    assert events_module.unwrap_push_body is unwrap_push_body
    assert events_module.PubSubMessage is PubSubMessage


messages = st.fixed_dictionaries(
    {},
    optional={
        "data": json_values | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
        "attributes": json_values | st.dictionaries(short_text, short_text, max_size=3),
        "messageId": json_values,
        "message_id": json_values,
        "publishTime": json_values,
        "orderingKey": json_values,
    },
)


@given(st.fixed_dictionaries({}, optional={"message": messages | json_values, "x": json_values}))
def test_arbitrary_envelopes_only_ever_raise_invalid_event(body: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidEvent):
        parse_push_body(body, now=NOW)
    with contextlib.suppress(InvalidEvent):
        parse_push_body(json.dumps(body).encode(), now=NOW)
    with contextlib.suppress(InvalidEvent):
        parse_cloud_event(body, now=NOW, event_id="ce")


@given(st.binary(max_size=200))
def test_arbitrary_push_body_bytes_only_ever_raise_invalid_event(data: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        parse_push_body(data, now=NOW)
