"""Event times: the one accepted wire grammar, the canonical text form, and the invariants.

An event time is an aware `datetime` in UTC, truncated to whole milliseconds, in years 1970..9999.
Its canonical text is `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 ASCII characters): fixed width, so text order
is time order, which row keys rely on.

Formatting a datetime costs about 0.6 µs, as much as the rest of building a row key, so the
latest canonical texts are memoised (a bounded dict; same results, just faster). The memo is keyed
by the datetime object's identity, not its value: hashing an aware datetime costs 0.4 µs, most of
a format, while the same object comes back (an event's time: parsed, keyed, written; an hour:
encoded every batch). An entry holds its datetime, so its id is not reused while it is there.
Parsing seeds the memo with a canonical input, so parse -> row key formats nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from etl_core.errors import InvalidEvent, Reason, describe

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EVENT_TIME = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
MAX_EPOCH_MS = (MAX_EVENT_TIME - EPOCH) // timedelta(milliseconds=1)

_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"
_CANONICAL_LEN = 24
_MEMO_SIZE = 4096
_memo: dict[int, tuple[datetime, str]] = {}
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)", re.ASCII)


def _bad(message: str) -> InvalidEvent:
    return InvalidEvent(Reason.BAD_TIME, message)


def parse_event_time(value: object, *, now: datetime, max_future: timedelta) -> datetime:
    """The wire `eventTime` as an event time; see `parse_event` for the rule. Raises BAD_TIME."""
    if type(value) is int:
        if not 0 <= value <= MAX_EPOCH_MS:
            raise _bad(f"epoch milliseconds out of range 1970..9999: {value}")
        t = EPOCH + timedelta(milliseconds=value)
    elif isinstance(value, str):
        t = _parse_iso(value)
    else:
        raise _bad(f"must be an ISO-8601 string or epoch milliseconds, not {describe(value)}")
    if t - now > max_future:
        raise _bad(f"{format_event_time(t)} is more than {max_future} after {now.isoformat()}")
    return t


def _parse_iso(text: str) -> datetime:
    if _ISO.fullmatch(text) is None:
        raise _bad(f"not YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM): {describe(text)}")
    try:
        t = datetime.fromisoformat(text)
        if t.tzinfo is not UTC:
            t = t.astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise _bad(f"not a valid time: {text!r}: {err}") from None
    if t.year < EPOCH.year:
        raise _bad(f"before 1970: {text!r}")
    sub_ms = t.microsecond % 1000
    if sub_ms:
        return t.replace(microsecond=t.microsecond - sub_ms)
    if len(text) == _CANONICAL_LEN and text[-1] == "Z":
        _remember(t, text)
    return t


def canonical_event_time(text: str, *, now: datetime, max_future: timedelta) -> datetime | None:
    """The event time of a `text` already known to have the canonical shape
    (`YYYY-MM-DDTHH:MM:SS.mmmZ`, digits where digits go), or None when it is not a valid one.

    The fast path of `parse_event_time` for what senders almost always send: it returns exactly
    what `parse_event_time(text, ...)` returns, and None exactly where that raises (an impossible
    date, before 1970, too far after `now`), so the caller lets the strict path say why. A
    canonical text is already UTC and whole milliseconds; the memo is seeded as the strict path
    seeds it.
    """
    try:
        t = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if t.year < 1970 or t - now > max_future:
        return None
    _remember(t, text)
    return t


def check_event_time(t: datetime) -> datetime:
    """`t` normalised to the `UTC` tzinfo; BAD_TIME unless it already is a valid event time."""
    if t.__class__ is datetime and t.tzinfo is UTC and not t.microsecond % 1000 and t.year >= 1970:
        return t
    if not isinstance(t, datetime) or t.utcoffset() != timedelta(0):
        raise _bad(f"must be an aware datetime in UTC: {t!r:.80}")
    if t.microsecond % 1000 or t.year < EPOCH.year:
        raise _bad(f"must be whole milliseconds in 1970..9999: {t.isoformat()}")
    return t if t.tzinfo is UTC else t.replace(tzinfo=UTC)


def format_event_time(t: datetime) -> str:
    """Canonical `YYYY-MM-DDTHH:MM:SS.mmmZ` of an aware datetime (sub-milliseconds dropped)."""
    known = _memo.get(id(t))
    if known is not None and known[0] is t:
        return known[1]
    utc = t
    if t.tzinfo is not UTC:
        if t.utcoffset() is None:
            raise ValueError(f"event times must be aware datetimes: {t!r}")
        utc = t.astimezone(UTC)
    text = _FORMAT % (
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond // 1000,
    )
    _remember(t, text)
    return text


def _remember(t: datetime, text: str) -> None:
    if len(_memo) >= _MEMO_SIZE:
        _memo.clear()
    _memo[id(t)] = (t, text)


def parse_canonical(text: str) -> datetime:
    """Inverse of `format_event_time`; ValueError unless `text` is exactly canonical."""
    t = datetime.fromisoformat(text) if len(text) == _CANONICAL_LEN and text[-1] == "Z" else None
    if t is None or format_event_time(t) != text:
        raise ValueError(f"not a canonical event time: {text!r}")
    return t
