"""Unwrapping the Pub/Sub message of a `messagePublished` CloudEvent."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_core import (
    Event,
    InvalidEvent,
    PubSubMessage,
    Reason,
    parse_event,
    unwrap_cloud_event,
)
from etl_core import events as events_module
from tests.unit.core.core_strategies import NOW, field_values, json_scalars, short_text

PAYLOAD = b'{"service":"acceso-sur","eventTime":"2024-05-06T08:00:00.000Z","event":-1}'


def cloud_event_data(**message: Any) -> dict[str, Any]:
    """A CloudEvent's `data`: the push body shape, `{"message": {...}, "subscription": ...}`."""
    fields: dict[str, Any] = {"data": base64.b64encode(PAYLOAD).decode(), "messageId": "m-1"}
    fields.update(message)
    return {"message": {k: v for k, v in fields.items() if v is not ...}, "subscription": "s"}


def envelope_reason(data: object, event_id: object = None) -> Reason:
    with pytest.raises(InvalidEvent) as caught:
        unwrap_cloud_event(data, event_id=event_id)  # type: ignore[arg-type]
    return caught.value.reason


def parse(data: object, event_id: str | None = None) -> Event:
    """What a function does with a CloudEvent: unwrap it, then parse the message it carries."""
    message = unwrap_cloud_event(data, event_id=event_id)  # type: ignore[arg-type]
    return parse_event(message.data, now=NOW, message_id=message.message_id)


def test_a_cloud_event_unwraps_to_its_decoded_message_with_every_field() -> None:
    data = cloud_event_data(
        attributes={"k": "v"}, publishTime="2024-05-06T08:00:01Z", orderingKey="acceso-sur"
    )
    expected = PubSubMessage(PAYLOAD, "m-1", {"k": "v"}, "2024-05-06T08:00:01Z", "acceso-sur")
    assert unwrap_cloud_event(data) == expected


def test_snake_case_field_names_are_accepted_too() -> None:
    data = cloud_event_data(messageId=..., message_id="m-2", publish_time="t", ordering_key="k")
    message = unwrap_cloud_event(data)
    assert (message.message_id, message.publish_time, message.ordering_key) == ("m-2", "t", "k")


def test_absent_optional_fields_are_none_or_empty_and_an_empty_ordering_key_is_none() -> None:
    message = unwrap_cloud_event(cloud_event_data(messageId=..., attributes=None, orderingKey=""))
    assert message == PubSubMessage(PAYLOAD, None, {}, None, None)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "text",
        [1],
        b"{}",
        {"message": None},
        {"message": "text"},
        {"subscription": "s"},
        cloud_event_data(data=...),
        cloud_event_data(data=None),
        cloud_event_data(data=5),
        cloud_event_data(data="not base64!"),
        cloud_event_data(data="abc"),
        cloud_event_data(data="ñ"),
        cloud_event_data(attributes=["k"]),
        cloud_event_data(attributes={"k": 1}),
        cloud_event_data(messageId=7),
        cloud_event_data(publishTime=1.5),
    ],
)
def test_malformed_cloud_event_data_is_a_bad_envelope(data: object) -> None:
    assert envelope_reason(data) == Reason.BAD_ENVELOPE


def test_a_converted_cloud_event_takes_its_message_id_from_the_cloud_event_id() -> None:
    data = cloud_event_data(messageId=...)
    assert unwrap_cloud_event(data, event_id="ce-9").message_id == "ce-9"
    assert unwrap_cloud_event(data).message_id is None


def test_an_eventarc_cloud_event_keeps_the_message_id_it_carries() -> None:
    assert unwrap_cloud_event(cloud_event_data(), event_id="ce-9").message_id == "m-1"


def test_a_cloud_event_id_that_is_not_a_string_is_a_bad_envelope() -> None:
    assert envelope_reason(cloud_event_data(messageId=...), event_id=5) == Reason.BAD_ENVELOPE


def test_the_unwrapped_message_parses_to_the_event_identified_by_its_message_id() -> None:
    expected = parse_event(PAYLOAD, now=NOW, message_id="m-1")
    assert parse(cloud_event_data()) == expected
    assert parse(cloud_event_data(messageId=...), event_id="m-1") == expected
    assert expected == Event(expected.service, expected.event_time, -1, "m-1")


def test_a_redelivered_message_parses_to_an_equal_event() -> None:
    first, again = (parse(cloud_event_data(messageId=...), event_id="ce-1") for _ in range(2))
    assert first == again


def test_the_events_module_re_exports_the_envelope_api() -> None:
    assert events_module.unwrap_cloud_event is unwrap_cloud_event
    assert events_module.PubSubMessage is PubSubMessage


messages = st.fixed_dictionaries(
    {},
    optional={
        "data": field_values | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
        "attributes": field_values | st.dictionaries(short_text, short_text, max_size=3),
        "messageId": field_values,
        "message_id": field_values,
        "publishTime": field_values,
        "orderingKey": field_values,
    },
)


@given(st.fixed_dictionaries({}, optional={"message": messages | field_values, "x": field_values}))
def test_arbitrary_cloud_event_data_unwraps_to_its_payload_or_is_a_bad_envelope(
    data: dict[str, Any],
) -> None:
    try:
        message = unwrap_cloud_event(data, event_id="ce")
    except InvalidEvent as err:
        failure: Reason | None = err.reason
    else:
        failure = None
        assert message.data == base64.b64decode(data["message"]["data"])
        assert message.message_id  # the message's own id, else the CloudEvent's
        with contextlib.suppress(InvalidEvent):
            parse_event(message.data, now=NOW, message_id=message.message_id)
    assert failure in (None, Reason.BAD_ENVELOPE)


not_objects = json_scalars | st.lists(field_values, max_size=3)


@given(not_objects)
def test_cloud_event_data_that_is_not_a_json_object_is_a_bad_envelope(data: object) -> None:
    assert envelope_reason(data, event_id="ce") == Reason.BAD_ENVELOPE
