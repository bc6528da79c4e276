"""The canonical event-time text: fixed width, exact, and independent of the memo."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_core.timestamps import format_event_time, parse_canonical
from tests.unit.core.core_strategies import event_times


def test_the_canonical_text_is_24_characters_in_utc_with_milliseconds() -> None:
    t = datetime(1970, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)
    assert format_event_time(t) == "1970-01-01T00:00:00.999Z"
    assert format_event_time(t.replace(microsecond=0)) == "1970-01-01T00:00:00.000Z"


def test_other_offsets_are_converted_and_naive_times_rejected() -> None:
    t = datetime(2031, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert format_event_time(t) == "2031-06-30T20:30:00.000Z"
    with pytest.raises(ValueError, match="aware"):
        format_event_time(datetime(2031, 7, 1, 2, 0))


def test_formatting_more_times_than_the_memo_holds_stays_correct() -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    for ms in range(5000):
        t = base + timedelta(milliseconds=ms)
        assert parse_canonical(format_event_time(t)) == t


@pytest.mark.parametrize(
    "text",
    ["2024-05-06T08:30:15.123", "2024-05-06T08:30:15.12Z0", "2024-05-06 08:30:15.123Z", ""],
)
def test_parse_canonical_rejects_anything_but_the_exact_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"canonical|Invalid"):
        parse_canonical(text)


@given(event_times)
def test_text_order_is_time_order_and_parsing_inverts_formatting(t: datetime) -> None:
    text = format_event_time(t)
    later = t + timedelta(milliseconds=1)
    assert len(text) == 24
    assert parse_canonical(text) == t
    if later.year <= 9999:
        assert text < format_event_time(later)


@given(event_times, st.integers(-23 * 60, 23 * 60))
def test_the_text_depends_on_the_instant_not_on_the_object_or_its_offset(
    t: datetime, minutes: int
) -> None:
    text = format_event_time(t)
    equal_object = datetime.fromisoformat(t.isoformat())
    assert equal_object is not t
    assert format_event_time(equal_object) == text
    with contextlib.suppress(OverflowError):  # the same instant may not fit in another offset
        assert format_event_time(t.astimezone(timezone(timedelta(minutes=minutes)))) == text


def test_texts_stay_right_when_objects_come_and_go_through_the_memo() -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    for ms in range(10_000):  # many short-lived objects: ids are reused once one is freed
        t = base + timedelta(milliseconds=ms * 7)
        assert format_event_time(t) == t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms * 7 % 1000:03d}Z"
