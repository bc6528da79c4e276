"""Parsing sensor messages: every outcome is an `Event` or an `InvalidEvent` with a reason."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_core import (
    MAX_FUTURE,
    MAX_MESSAGE_BYTES,
    Event,
    InvalidEvent,
    Reason,
    parse_event,
    unwrap_cloud_event,
)
from etl_core.errors import describe
from etl_core.events import validate_delta, validate_event_id, validate_service
from tests.unit.core.core_strategies import NOW, events, field_values, json_values, short_text

T = datetime(2024, 5, 6, 8, 30, 15, 123000, tzinfo=UTC)


def message(**fields: Any) -> bytes:
    body = {"service": "acceso-norte", "eventTime": "2024-05-06T08:30:15.123Z", "event": 1}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def reason_of(data: bytes, message_id: str | None = "m-1") -> Reason:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data, now=NOW, message_id=message_id)
    return caught.value.reason


def test_a_valid_message_becomes_an_event_identified_by_its_event_id() -> None:
    event = parse_event(message(eventId="e-1"), now=NOW, message_id="m-1")
    assert event == Event("acceso-norte", T, 1, "e-1")


def test_without_an_event_id_the_pubsub_message_id_identifies_the_event() -> None:
    assert parse_event(message(), now=NOW, message_id="m-1").event_id == "m-1"
    assert parse_event(message(eventId=None), now=NOW, message_id="m-1").event_id == "m-1"


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    event = parse_event(message(eventId="e-1", battery=0.5, extra={"a": [1]}), now=NOW)
    assert event == Event("acceso-norte", T, 1, "e-1")


# One test per reason.


def test_a_message_over_64_kib_is_too_large_before_anything_else_is_checked() -> None:
    assert reason_of(b"\xff" * (MAX_MESSAGE_BYTES + 1)) == Reason.TOO_LARGE
    padded = message(pad="x" * (MAX_MESSAGE_BYTES - 200))
    assert parse_event(padded, now=NOW, message_id="m").service == "acceso-norte"


def test_bytes_that_are_not_utf8_are_rejected_as_not_utf8() -> None:
    assert reason_of(b'{"service": "\xff"}') == Reason.NOT_UTF8


def test_text_that_is_not_json_is_rejected_as_not_json() -> None:
    for data in (b"", b"{", b"\xef\xbb\xbf{}", b"NaN-ish", b"[" * 5000, b"1" * 5000):
        assert reason_of(data) == Reason.NOT_JSON, data[:10]


def test_json_that_is_not_an_object_is_rejected_as_not_object() -> None:
    for data in (b"[]", b"1", b'"text"', b"null", b"true"):
        assert reason_of(data) == Reason.NOT_OBJECT


def test_a_missing_required_field_or_identity_is_a_missing_field() -> None:
    for name in ("service", "eventTime", "event"):
        assert reason_of(message(**{name: ...})) == Reason.MISSING_FIELD
    assert reason_of(message(), message_id=None) == Reason.MISSING_FIELD


def test_a_service_that_is_not_a_short_printable_string_is_a_bad_service() -> None:
    for service in ("", "a" * 129, "ñ" * 65, "gate\n", "gate\x00", "gate\x7f", "\ud800", 7, None):
        assert reason_of(message(service=service)) == Reason.BAD_SERVICE, service


def test_a_time_outside_the_time_rule_is_a_bad_time() -> None:
    bad: list[object] = [
        "2024-05-06T08:30:15",  # naive
        "2024-05-06 08:30:15Z",
        "2024-05-06T08:30Z",
        "2024-05-06T08:30:15+0200",
        "2024-05-06T08:30:15+02",
        "20240506T083015Z",
        "2024-02-30T00:00:00Z",
        "2024-05-06T24:00:00Z",
        "2024-05-06T08:30:15.1234567890Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:30:00+01:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "\uff12\uff10\uff12\uff14-05-06T08:30:15Z",  # full-width digits
        "",
        -1,
        253402300800000,
        True,
        1.5e12,
        None,
        [],
    ]
    for value in bad:
        assert reason_of(message(eventTime=value)) == Reason.BAD_TIME, value


def test_an_event_that_is_not_the_integer_one_or_minus_one_is_a_bad_delta() -> None:
    for value in (0, 2, -2, True, False, 1.0, -1.0, "1", None):
        assert reason_of(message(event=value)) == Reason.BAD_DELTA, value
    assert reason_of(b'{"service":"s","eventTime":0,"event":NaN}') == Reason.BAD_DELTA


def test_an_event_id_or_message_id_that_is_not_a_valid_label_is_a_bad_event_id() -> None:
    for value in ("", "x" * 129, "id\t", 5, ["id"]):
        assert reason_of(message(eventId=value)) == Reason.BAD_EVENT_ID, value
    assert reason_of(message(), message_id="") == Reason.BAD_EVENT_ID


def test_a_malformed_envelope_is_a_bad_envelope() -> None:
    with pytest.raises(InvalidEvent) as caught:
        unwrap_cloud_event({"message": {"data": "not base64!"}})
    assert caught.value.reason == Reason.BAD_ENVELOPE


# The time rule.


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2024-05-06T08:30:15.123Z", T),
        ("2024-05-06T08:30:15Z", T.replace(microsecond=0)),
        ("2024-05-06T08:30:15.1239Z", T),
        ("2024-05-06T08:30:15.123999999Z", T),
        ("2024-05-06T10:30:15.123+02:00", T),
        ("2024-05-06T05:00:15.123-03:30", T),
        ("2024-05-06T08:30:15.123-00:00", T),
        (1714984215123, T),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_event_times_are_converted_to_utc_and_truncated_to_milliseconds(
    wire: object, expected: datetime
) -> None:
    event = parse_event(message(eventTime=wire), now=NOW, message_id="m")
    assert event.event_time == expected
    assert event.event_time.tzinfo is UTC


def test_an_event_up_to_24_hours_in_the_future_is_accepted_and_later_is_rejected() -> None:
    limit = NOW + MAX_FUTURE
    ms = timedelta(milliseconds=1)
    assert parse_event(message(eventTime=_wire(limit)), now=NOW, message_id="m").event_time == limit
    assert reason_of(message(eventTime=_wire(limit + ms))) == Reason.BAD_TIME


def _wire(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_parsing_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_event(message(), now=datetime(2024, 1, 1), message_id="m")


# Event invariants.


def test_an_event_cannot_be_constructed_invalid() -> None:
    cases: list[tuple[dict[str, Any], Reason]] = [
        ({"event_time": datetime(2024, 1, 1)}, Reason.BAD_TIME),
        ({"event_time": T.astimezone(timezone(timedelta(hours=1)))}, Reason.BAD_TIME),
        ({"event_time": T.replace(microsecond=123456)}, Reason.BAD_TIME),
        ({"event_time": datetime(1969, 12, 31, tzinfo=UTC)}, Reason.BAD_TIME),
        ({"event_time": "2024-01-01"}, Reason.BAD_TIME),
        ({"delta": True}, Reason.BAD_DELTA),
        ({"service": "a\nb"}, Reason.BAD_SERVICE),
        ({"event_id": ""}, Reason.BAD_EVENT_ID),
    ]
    for change, reason in cases:
        fields: dict[str, Any] = {"service": "s", "event_time": T, "delta": 1, "event_id": "e"}
        fields.update(change)
        with pytest.raises(InvalidEvent) as caught:
            Event(**fields)
        assert caught.value.reason == reason, change


def test_a_zero_offset_timezone_is_normalised_to_utc() -> None:
    event = Event("s", T.astimezone(timezone(timedelta(0), "Z0")), 1, "e")
    assert event.event_time.tzinfo is UTC
    assert event == Event("s", T, 1, "e")


def test_labels_allow_any_printable_text_and_format_characters_up_to_128_bytes() -> None:
    for service in ("a" * 128, "ñ" * 64, "puerta #3 \\ norte", "a\u200db", "🚪", " "):
        assert Event(service, T, -1, service).service == service


def test_an_invalid_event_reads_as_reason_and_message() -> None:
    err = InvalidEvent(Reason.BAD_TIME, "too far ahead")
    assert str(err) == "bad_time: too far ahead"
    assert (err.reason, err.message) == (Reason.BAD_TIME, "too far ahead")


# Properties.


@given(events)
def test_parse_of_to_json_gives_back_the_same_event(event: Event) -> None:
    assert parse_event(event.to_json(), now=event.event_time) == event


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_invalid_event(data: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        parse_event(data, now=NOW, message_id="m")


@given(json_values)
def test_arbitrary_json_values_only_ever_raise_invalid_event(value: object) -> None:
    with contextlib.suppress(InvalidEvent):
        parse_event(json.dumps(value).encode(), now=NOW, message_id="m")


@given(
    st.fixed_dictionaries(
        {"service": field_values, "eventTime": field_values, "event": field_values},
        optional={"eventId": field_values},
    ),
    st.none() | short_text,
)
def test_objects_with_arbitrary_field_values_only_ever_raise_invalid_event(
    body: dict[str, object], message_id: str | None
) -> None:
    try:
        event = parse_event(json.dumps(body).encode(), now=NOW, message_id=message_id)
    except InvalidEvent:
        return
    assert event.delta in (1, -1)


def test_error_messages_describe_untrusted_values_briefly() -> None:
    assert describe("x" * 500).endswith("...")
    assert len(describe("x" * 500)) == 80
    assert describe(2**100) == "a large integer"
    assert describe([[1]]) == "a list"
    assert describe(None) == "None"


def test_the_field_validators_return_valid_values_unchanged() -> None:
    assert validate_delta(-1) == -1
    assert validate_service("acceso-sur") == "acceso-sur"
    assert validate_event_id("e-1") == "e-1"
