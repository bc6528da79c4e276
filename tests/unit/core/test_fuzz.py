"""Fuzzing the parsers facing the network: `parse_event` and `unwrap_cloud_event`.

Structure-aware and deterministic: each example starts from a valid message (or envelope) and
mutates it — bytes flipped, cut or spliced with hostile tokens, fields replaced by hostile JSON
values — so most examples get deep into validation instead of failing at the first byte. The
`fuzz` settings run a fixed 2,000 examples per test, derandomized, so CI is reproducible; raise it
locally with `--hypothesis-seed`/a bigger profile when hunting.

Invariants: whatever the input, only `InvalidEvent` escapes; whatever parses is a valid `Event`
that round-trips through its wire form; unwrapping keeps the original payload bytes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_core import (
    MAX_MESSAGE_BYTES,
    Event,
    InvalidEvent,
    Reason,
    parse_event,
    unwrap_cloud_event,
)
from tests.unit.core.core_strategies import NOW, events

fuzz = settings(
    max_examples=2000,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""2,000 derandomized examples per test on top of the loaded profile (tests/unit/conftest.py)."""

HOSTILE_TOKENS = (
    b"\x00",
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b'"',
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"}",
    b"{",
    b"[",
    b"]",
    b",",
    b":",
    b"NaN",
    b"Infinity",
    b"-0",
    b"1e400",
    b"9" * 400,
    b"true",
    b"null",
    b"\n",
    "\u2028".encode(),
    b"[" * 5000,
)
HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    1.0,
    -1.0,
    1e400,
    2**63,
    -(2**64),
    "",
    " ",
    "1",
    "-1",
    "\x00",
    "\ud800",
    "a" * 129,
    "😀" * 33,
    "#",
    "\\",
    [],
    {},
    [1],
    {"a": 1},
    "2024-05-06T08:00:00Z",
    "2024-05-06T08:00:00",
    "2024-02-30T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "10000-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "2024-05-06T08:00:00+24:00",
    "2024-05-06T08:00:00.123456789Z",
    "2024-05-06 08:00:00Z",
    1714982400000,
    -1,
    253402300800000,
)
FIELDS = ("service", "eventTime", "event", "eventId")


def valid_bytes(event: Event) -> bytes:
    return event.to_json()


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A valid message's bytes with a few byte-level mutations."""
    data = bytearray(valid_bytes(draw(events)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "cut", "insert", "delete")))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(HOSTILE_TOKENS) | st.binary(max_size=8))
        elif at < len(data):
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


@st.composite
def mutated_fields(draw: st.DrawFn) -> bytes:
    """A valid message's JSON with fields replaced by hostile values, removed or duplicated."""
    body: dict[str, Any] = json.loads(valid_bytes(draw(events)))
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        action = draw(st.sampled_from(("replace", "remove", "nest")))
        if action == "replace":
            body[name] = draw(st.sampled_from(HOSTILE_VALUES) | st.text(max_size=20))
        elif action == "remove":
            body.pop(name, None)
        else:
            body[name] = {name: body.get(name)}
    text = json.dumps(body, ensure_ascii=draw(st.booleans()), allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


messages = st.one_of(mutated_bytes(), mutated_fields(), st.builds(valid_bytes, events))


def check_parse(data: bytes, message_id: str | None) -> None:
    try:
        event = parse_event(data, now=NOW, message_id=message_id)
    except InvalidEvent:
        return
    assert isinstance(event, Event)
    assert Event(event.service, event.event_time, event.delta, event.event_id) == event
    assert parse_event(event.to_json(), now=NOW) == event


@fuzz
@given(messages, st.none() | st.sampled_from(("m-1", "", "\x00", "a" * 200)))
def test_any_mutated_message_parses_to_a_round_tripping_event_or_raises_only_invalid_event(
    data: bytes, message_id: str | None
) -> None:
    check_parse(data, message_id)


@st.composite
def cloud_event_data(draw: st.DrawFn) -> Any:
    """A CloudEvent's `data` around a (mutated) message, itself possibly mutated or replaced."""
    payload = draw(messages)
    message: dict[str, Any] = {"data": base64.b64encode(payload).decode(), "messageId": "m-1"}
    for name in draw(
        st.lists(
            st.sampled_from(
                ("data", "messageId", "attributes", "publishTime", "orderingKey", "message_id")
            ),
            max_size=3,
        )
    ):
        message[name] = draw(st.sampled_from(HOSTILE_VALUES) | st.text(max_size=10))
    envelope: Any = {"message": message, "subscription": "projects/p/subscriptions/s"}
    if draw(st.booleans()):
        envelope = draw(
            st.sampled_from(({}, [], None, {"message": None}, envelope, envelope))
            | st.sampled_from(HOSTILE_VALUES)
        )
    return envelope


@fuzz
@given(cloud_event_data(), st.sampled_from((None, "ce-1")))
def test_any_cloud_event_unwraps_to_its_payload_or_raises_only_invalid_event(
    data: Any, event_id: str | None
) -> None:
    try:
        message = unwrap_cloud_event(data, event_id=event_id)
    except InvalidEvent:
        return
    assert message.data == base64.b64decode(data["message"]["data"])
    assert message.message_id or event_id is None
    check_parse(message.data, message.message_id)


def test_deeply_nested_json_is_not_json_rather_than_a_crash() -> None:
    # Under the 64 KiB limit, so the JSON decoder really sees them.
    for data in (b"[" * 60_000, b'{"a":' * 13_000, b"[" * 30_000 + b"]" * 30_000):
        assert len(data) <= MAX_MESSAGE_BYTES
        with pytest.raises(InvalidEvent) as caught:
            parse_event(data, now=NOW, message_id="m")
        assert caught.value.reason == Reason.NOT_JSON
