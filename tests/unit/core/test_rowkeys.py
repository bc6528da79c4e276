"""Row keys: round trip, one contiguous range per service, time order, derived rows apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from etl_core import InvalidKey
from etl_core.rowkeys import (  # the module under test, all of it
    MAX_KEY_BYTES,
    decode_event_key,
    event_key,
    hourly_key,
    is_event_key,
    scan_range,
    service_of_hourly_key,
    service_of_status_key,
    service_prefix,
    service_range,
    split_key,
    status_key,
    time_range,
)
from tests.unit.core.core_strategies import TRICKY_SERVICES, event_ids, event_times, services

T = datetime(2024, 5, 6, 8, 30, 15, 123000, tzinfo=UTC)


def inside(key: bytes, bounds: tuple[bytes, bytes]) -> bool:
    return bounds[0] <= key < bounds[1]


def test_an_event_key_is_escaped_service_then_canonical_time_then_event_id() -> None:
    assert event_key("acceso-norte", T, "e-1") == b"acceso-norte#2024-05-06T08:30:15.123Z#e-1"
    assert event_key("a#b\\c", T, "x#y") == b"a\\#b\\\\c#2024-05-06T08:30:15.123Z#x#y"
    assert event_key("ñ", T, "e") == "ñ#2024-05-06T08:30:15.123Z#e".encode()


def test_keys_of_gate_do_not_fall_in_the_range_of_similarly_named_services() -> None:
    names = ("gate", "gate-north", "gate#south", "gate\\", "gate#", "gate\\#")
    for a in names:
        for b in names:
            key = event_key(a, T, "e")
            assert inside(key, service_range(b)) == (a == b), (a, b)


def test_derived_row_keys_sit_beside_the_events_of_their_service() -> None:
    assert status_key("gate") == b"gate#~status"
    assert hourly_key("gate#south") == b"gate\\#south#~hourly"
    assert service_prefix("gate\\") == b"gate\\\\#"


def test_an_undecodable_key_raises_invalid_key() -> None:
    bad = [
        b"",
        b"\xff#2024-05-06T08:30:15.123Z#e",
        b"no-separator",
        b"gate\\x#2024-05-06T08:30:15.123Z#e",
        b"gate\\",
        b"gate#2024-05-06T08:30:15.123Z",
        b"gate#2024-05-06T08:30:15.123Z#",
        b"gate#2024-05-06T08:30:15.123Ze",
        b"gate#2024-05-06T08:30:15.12Z#e",
        b"gate#2024-05-06 08:30:15.123Z#e",
        b"gate#2024-02-30T08:30:15.123Z#e",
        b"gate#1969-12-31T23:59:59.999Z#e",
        b"#2024-05-06T08:30:15.123Z#e",
        b"gate#2024-05-06T08:30:15.123Z#e\n",
        b"gate#~status",
        b"gate#~hourly",
    ]
    for key in bad:
        with pytest.raises(InvalidKey):
            decode_event_key(key)
        assert not is_event_key(key), key


def test_status_and_hourly_keys_decode_to_their_service_and_nothing_else() -> None:
    for service in TRICKY_SERVICES:
        assert service_of_status_key(status_key(service)) == service
        assert service_of_hourly_key(hourly_key(service)) == service
    for key in (hourly_key("gate"), event_key("gate", T, "e"), b"#~status", b"\xff#~status"):
        with pytest.raises(InvalidKey):
            service_of_status_key(key)


def test_split_key_separates_the_service_from_the_rest() -> None:
    assert split_key(b"a\\#b#rest#more") == ("a#b", "rest#more")
    assert split_key(b"plain#rest") == ("plain", "rest")
    with pytest.raises(InvalidKey):
        split_key(b"a\\#b")


def test_time_range_bounds_must_be_aware_and_an_inverted_range_is_empty() -> None:
    with pytest.raises(ValueError, match="aware"):
        time_range("gate", datetime(2024, 1, 1), T)
    start, end = time_range("gate", T, T - timedelta(hours=1))
    assert start == end


def test_event_key_accepts_any_aware_time_and_rejects_naive_ones() -> None:
    plus_two = T.astimezone(timezone(timedelta(hours=2)))
    assert event_key("g", plus_two, "e") == event_key("g", T, "e")
    with pytest.raises(ValueError, match="aware"):
        event_key("g", datetime(2024, 1, 1, 0, 0, 0, 1), "e")


def test_the_longest_inputs_stay_far_below_the_bigtable_key_limit() -> None:
    longest = event_key("\\" * 128, datetime(9999, 12, 31, tzinfo=UTC), "🚪" * 32)
    assert len(longest) < MAX_KEY_BYTES // 8
    assert decode_event_key(longest) == ("\\" * 128, datetime(9999, 12, 31, tzinfo=UTC), "🚪" * 32)


# Properties.


@given(services, event_times, event_ids)
def test_an_event_key_decodes_to_its_fields(service: str, t: datetime, event_id: str) -> None:
    key = event_key(service, t, event_id)
    assert decode_event_key(key) == (service, t, event_id)
    assert is_event_key(key)
    assert key.startswith(service_prefix(service))
    assert inside(key, service_range(service))
    assert len(key) <= MAX_KEY_BYTES


@given(services, services, event_times, event_ids)
def test_no_key_or_range_of_one_service_falls_in_another_services_range(
    a: str, b: str, t: datetime, event_id: str
) -> None:
    assume(a != b)
    range_b = service_range(b)
    assert not inside(event_key(a, t, event_id), range_b)
    start_a, end_a = service_range(a)
    assert end_a <= range_b[0] or range_b[1] <= start_a
    assert not service_prefix(a).startswith(service_prefix(b))


@given(services, event_times, event_ids, event_times, event_ids)
def test_within_a_service_key_order_is_time_then_id_order(
    service: str, t1: datetime, id1: str, t2: datetime, id2: str
) -> None:
    k1, k2 = event_key(service, t1, id1), event_key(service, t2, id2)
    assert (k1 < k2) == ((t1, id1) < (t2, id2))


@given(services, services, event_times, event_ids)
def test_derived_keys_are_never_in_a_service_range_nor_decodable_as_events(
    a: str, b: str, t: datetime, event_id: str
) -> None:
    for derived in (status_key(a), hourly_key(a)):
        assert not inside(derived, service_range(b))
        assert not is_event_key(derived)
        assert derived != event_key(b, t, event_id)


@given(services, event_times, st.integers(-(10**7), 10**7), st.integers(0, 10**7), event_ids)
def test_time_range_covers_exactly_the_events_in_the_half_open_window(
    service: str, t: datetime, offset_us: int, width_us: int, event_id: str
) -> None:
    t0 = min(max(t + timedelta(microseconds=offset_us), _EPOCH), _LATEST)
    t1 = min(t0 + timedelta(microseconds=width_us), _LATEST)
    bounds = time_range(service, t0, t1)
    assert inside(event_key(service, t, event_id), bounds) == (t0 <= t < t1)
    assert service_range(service)[0] <= bounds[0] <= bounds[1] <= service_range(service)[1]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 998000, tzinfo=UTC)


@given(
    st.binary(max_size=80)
    | st.builds(
        lambda k, b: k + b,
        st.sampled_from(
            [b"gate#2024-05-06T08:30:15.123Z#", b"g\\#", b"g#9999-12-31T23:59:59.999Z"]
        ),
        st.binary(max_size=8),
    )
)
def test_any_bytes_either_fail_to_decode_or_are_exactly_an_event_key(key: bytes) -> None:
    try:
        service, t, event_id = decode_event_key(key)
    except InvalidKey:
        assert not is_event_key(key)
        return
    assert event_key(service, t, event_id) == key


@given(
    service=services,
    times=st.lists(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        min_size=3,
        max_size=3,
    ),
)
def test_scan_range_with_open_or_closed_bounds_holds_exactly_the_events_between(
    service: str, times: list[datetime]
) -> None:
    t0, t, t1 = sorted(x.replace(microsecond=x.microsecond // 1000 * 1000) for x in times)
    key = event_key(service, t, "id")
    lo, hi = scan_range(service, t0, None)
    assert lo <= key < hi
    lo, hi = scan_range(service, None, t1)
    assert (lo <= key < hi) == (t < t1)
    assert scan_range(service) == service_range(service)
