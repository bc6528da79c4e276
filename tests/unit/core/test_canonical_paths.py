"""The fast paths for messages in the usual shape decide exactly what the general paths decide.

`parse_event` reads a message in the `_CANONICAL` shape with one regular expression instead of
the JSON decoder, its time with `canonical_event_time` instead of the full time grammar, and
builds the `Event` without re-checking fields the expression already checked. Each property
compares a fast path with the general one on generated input built to sit on the shape's edges
(hostile labels, impossible dates, reordered keys, other spacing, other numbers), bad input
included: the same `Event` (field types too), or the same `Reason` and message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from etl_core import MAX_FUTURE, Event, InvalidEvent
from etl_core.events import _parse_canonical, _parse_general, _valid_event, parse_event
from etl_core.timestamps import canonical_event_time, parse_event_time
from tests.unit.core.core_strategies import NOW, event_ids, events, services


def _text(t: datetime) -> str:
    """The canonical text of `t`, written independently of `format_event_time`."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


NOWS = st.sampled_from(
    (NOW, NOW + MAX_FUTURE, datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))
)
canonical_shaped_times = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z".format,
    st.integers(1970, 2024) | st.integers(0, 9999) | st.sampled_from((1969, 9999)),
    st.integers(1, 12) | st.integers(0, 13),
    st.integers(1, 28) | st.integers(0, 32),
    st.integers(0, 23) | st.integers(0, 25),
    st.integers(0, 59) | st.integers(0, 60),
    st.integers(0, 59) | st.integers(0, 61),
    st.integers(0, 999),
)
"""Digits where the canonical form has digits: real times, impossible dates, years before 1970,
times far after `now`."""
times_before_now = st.integers(0, 10**9).map(lambda ms: _text(NOW - timedelta(milliseconds=ms)))
"""Canonical texts of times accepted at `NOW` and later."""
times_near_the_shape = canonical_shaped_times | st.sampled_from(
    (
        "2024-05-06T08:00:00Z",
        "2024-05-06T08:00:00.1234Z",
        "2024-05-06T08:00:00.123+00:00",
        "2024-05-06 08:00:00.123Z",
        "2024-05-06T08:00:00.123z",
        "\uff12\uff10\uff12\uff14-05-06T08:00:00.123Z",  # fullwidth digits
    )
)
labels_near_the_shape = services | st.sampled_from(
    ("", "a" * 128, "a" * 129, 'a"b', "a\\b", "a\x7f", "a\x1f", " ", "\u00e9", "~")
)
wire_values = st.sampled_from(
    (1, -1, 0, 2, 1.0, -1.0, True, None, "1", [], {}, "2024-05-06T08:00:00.000Z", 1714982400000)
)


ascii_labels = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)
"""Printable ASCII, the quote and backslash included (escaped in JSON: not the fast shape)."""
PARTS = ("service", "eventTime", "event", "eventId", "layout")


@st.composite
def messages_near_the_shape(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A message in the canonical shape but for a few parts (none: the shape itself), and the
    Pub/Sub message id beside it."""
    odd = draw(st.sets(st.sampled_from(PARTS), max_size=3))
    fields: dict[str, Any] = {
        "service": draw(labels_near_the_shape | wire_values if "service" in odd else ascii_labels),
        "eventTime": draw(
            times_near_the_shape | wire_values
            if "eventTime" in odd
            else times_before_now | canonical_shaped_times
        ),
        "event": draw(wire_values if "event" in odd else st.sampled_from((1, -1))),
    }
    event_id = draw(
        st.none() | st.just(...) | labels_near_the_shape | wire_values
        if "eventId" in odd
        else ascii_labels | event_ids
    )
    if event_id is not ...:
        fields["eventId"] = event_id
    separators = draw(st.sampled_from(((",", ":"), (", ", ": "), (",", ": "))))
    if "layout" in odd:
        fields = dict(draw(st.permutations(list(fields.items()))))
        separators = draw(st.sampled_from(((" ,", ":"), (",", " :"), (",\n", ":"), separators)))
    text = json.dumps(fields, ensure_ascii=draw(st.booleans()), separators=separators)
    if "layout" in odd:
        text = draw(st.sampled_from(("{}", " {}", "{}\n", "{}{{}}"))).format(text)
    message_id = draw(st.none() | st.sampled_from(("m-1", "", "\x00", "a" * 200, 'q"')))
    return text.encode("utf-8", "surrogatepass"), message_id


def outcome(parse: Any, data: bytes, message_id: str | None, now: datetime) -> object:
    """What a parse returns, field types included (`True == 1`), or the error it raises."""
    try:
        event = parse(data, now=now, message_id=message_id)
    except InvalidEvent as err:
        return err.reason, err.message
    return (
        event,
        [type(v) for v in (event.service, event.delta, event.event_id)],
        event.event_time.tzinfo,
    )


def parse_generally(data: bytes, *, now: datetime, message_id: str | None) -> Event:
    """`parse_event` without the fast path (these messages are all small UTF-8)."""
    return _parse_general(data.decode("utf-8"), now, message_id)


@given(messages_near_the_shape(), NOWS)
def test_parsing_with_the_fast_path_equals_parsing_without_it(
    message: tuple[bytes, str | None], now: datetime
) -> None:
    data, message_id = message
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:  # a lone surrogate: NOT_UTF8 before either path is reached
        return
    expected = outcome(parse_generally, data, message_id, now)
    assert outcome(parse_event, data, message_id, now) == expected


@given(events, st.booleans())
def test_a_message_as_senders_write_it_takes_the_fast_path_when_its_labels_are_plain(
    event: Event, spaced: bool
) -> None:
    data = event.to_json()
    if spaced:
        data = json.dumps(json.loads(data)).encode()
    fast = _parse_canonical(data.decode(), event.event_time, None)
    plain = all(
        label.isascii() and label.isprintable() and '"' not in label and "\\" not in label
        for label in (event.service, event.event_id)
    )
    assert (fast is not None) == plain
    assert fast is None or fast == event


@given(canonical_shaped_times, NOWS)
def test_the_fast_time_path_equals_the_strict_one_and_refuses_what_it_refuses(
    text: str, now: datetime
) -> None:
    fast = canonical_event_time(text, now=now, max_future=MAX_FUTURE)
    try:
        strict = parse_event_time(text, now=now, max_future=MAX_FUTURE)
    except InvalidEvent:
        assert fast is None
        return
    assert fast == strict
    assert fast is not None
    assert fast.tzinfo is strict.tzinfo is UTC


def test_the_fast_time_path_refuses_a_time_past_the_future_limit_and_before_1970() -> None:
    limit = NOW + MAX_FUTURE
    assert canonical_event_time(_text(limit), now=NOW, max_future=MAX_FUTURE) == limit
    later = _text(limit + timedelta(milliseconds=1))
    assert canonical_event_time(later, now=NOW, max_future=MAX_FUTURE) is None
    assert canonical_event_time("1969-12-31T23:59:59.999Z", now=NOW, max_future=MAX_FUTURE) is None
    assert canonical_event_time("2024-02-30T00:00:00.000Z", now=NOW, max_future=MAX_FUTURE) is None


@given(events)
def test_an_event_built_from_checked_fields_equals_one_built_by_its_constructor(
    event: Event,
) -> None:
    built = _valid_event(event.service, event.event_time, event.delta, event.event_id)
    assert built == event
    assert hash(built) == hash(event)
    assert repr(built) == repr(event)
