r"""Row keys of the Bigtable table `incomingraw_{stage}`.

Event row: `esc(service) "#" YYYY-MM-DDTHH:MM:SS.mmmZ "#" event_id`, UTF-8, where `esc` writes
`\` as `\\` and `#` as `\#`. The first unescaped `#` ends the service, so `esc(service) + "#"`
is a prefix that no other service's keys share (gate / gate-north / gate#south / gate\). The
event id is the last field and is written verbatim: nothing follows it, and escaping it would
break the order below.

Why this shape (Bigtable's schema guidance):
- Entity first, never a leading timestamp: keys of different services spread over the key space,
  so writes from many sites do not all land on one tablet.
- Ascending event time within a service: the occupancy fold scans forward in time, and a time
  window is one contiguous range. Byte order of a service's keys is exactly `(event_time,
  event_id)` order, because the timestamp is fixed width and UTF-8 preserves code point order.
- One service's writes append at the end of its range: acceptable, a door sensor's rate is low.

Per-service derived rows sit beside the events: `prefix + "~status"`, `"~hourly"`, `"~daily"`.
`~` sorts after every digit, so they are outside `service_range` and never decode as events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from etl_core.errors import InvalidEvent, InvalidKey
from etl_core.events import validate_event_id, validate_service
from etl_core.timestamps import check_event_time, format_event_time, parse_canonical

MAX_KEY_BYTES = 4096
STATUS_SUFFIX = b"~status"
HOURLY_SUFFIX = b"~hourly"
DAILY_SUFFIX = b"~daily"
_ESCAPES = str.maketrans({"\\": "\\\\", "#": "\\#"})


def _esc(service: str) -> str:
    return service.translate(_ESCAPES) if "#" in service or "\\" in service else service


def service_prefix(service: str) -> bytes:
    """`esc(service) + "#"`: every row key of `service`, and only those, starts with it."""
    return (_esc(service) + "#").encode()


def event_key(service: str, event_time: datetime, event_id: str) -> bytes:
    """Row key of an event (the fields of a valid `Event`; sub-milliseconds are dropped)."""
    return f"{_esc(service)}#{format_event_time(event_time)}#{event_id}".encode()


def service_range(service: str) -> tuple[bytes, bytes]:
    """`[start, end)` covering exactly the event rows of `service` (years are 4 digits)."""
    prefix = service_prefix(service)
    return prefix + b"0", prefix + b":"


def time_range(service: str, t0: datetime, t1: datetime) -> tuple[bytes, bytes]:
    """`[start, end)` covering the event rows of `service` with `t0 <= event_time < t1`.

    Empty (start == end) when `t1 <= t0`. Both bounds must be aware datetimes.
    """
    prefix = service_prefix(service)
    start = prefix + format_event_time(_ceil_ms(t0)).encode()
    end = prefix + format_event_time(_ceil_ms(t1)).encode()
    return start, max(start, end)


def scan_range(
    service: str, start: datetime | None = None, end: datetime | None = None
) -> tuple[bytes, bytes]:
    """`[start, end)` of the event rows of `service`, each bound optional (open-ended when None)."""
    lo, hi = service_range(service)
    if start is not None:
        lo = time_range(service, start, start)[0]
    if end is not None:
        hi = time_range(service, end, end)[1]
    return lo, hi


def _ceil_ms(t: datetime) -> datetime:
    if t.utcoffset() is None:
        raise ValueError(f"time bounds must be aware datetimes: {t!r}")
    rest = t.microsecond % 1000
    return t + timedelta(microseconds=1000 - rest) if rest else t


def status_key(service: str) -> bytes:
    """Row of the service's current occupancy (`realTimeStatus` in the original design)."""
    return service_prefix(service) + STATUS_SUFFIX


def hourly_key(service: str) -> bytes:
    """Row of the service's entries and exits per hour."""
    return service_prefix(service) + HOURLY_SUFFIX


def daily_key(service: str) -> bytes:
    """Row of the service's peak occupancy per day."""
    return service_prefix(service) + DAILY_SUFFIX


def split_key(key: bytes) -> tuple[str, str]:
    """`(service, rest)` of any row key this module writes; InvalidKey if it has no service."""
    try:
        text = key.decode()
    except UnicodeDecodeError:
        raise InvalidKey(f"row key is not UTF-8: {key!r:.120}") from None
    if "\\" not in text:
        service, sep, rest = text.partition("#")
        if sep:
            return service, rest
    else:
        chars: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char == "#":
                return "".join(chars), text[i + 1 :]
            if char == "\\":
                i += 1
                char = text[i : i + 1]
                if char not in ("\\", "#"):
                    raise InvalidKey(f"bad escape in row key: {key!r:.120}")
            chars.append(char)
            i += 1
    raise InvalidKey(f"row key has no service separator: {key!r:.120}")


def decode_event_key(key: bytes) -> tuple[str, datetime, str]:
    """`(service, event_time, event_id)` of an event row key; InvalidKey for any other bytes."""
    service, rest = split_key(key)
    stamp, sep, event_id = rest.partition("#")  # a canonical time has no "#"
    if not sep:
        raise InvalidKey(f"not an event row key: {key!r:.120}")
    try:
        event_time = check_event_time(parse_canonical(stamp))
        validate_service(service)
        validate_event_id(event_id)
    except (ValueError, InvalidEvent) as err:
        raise InvalidKey(f"not an event row key: {key!r:.120}: {err}") from None
    return service, event_time, event_id


def is_event_key(key: bytes) -> bool:
    """True when `decode_event_key(key)` would succeed."""
    try:
        decode_event_key(key)
    except InvalidKey:
        return False
    return True


def service_of_status_key(key: bytes) -> str:
    """The service whose `status_key` is `key`; InvalidKey for any other key."""
    return _service_of(key, STATUS_SUFFIX)


def service_of_hourly_key(key: bytes) -> str:
    """The service whose `hourly_key` is `key`; InvalidKey for any other key."""
    return _service_of(key, HOURLY_SUFFIX)


def _service_of(key: bytes, suffix: bytes) -> str:
    service, rest = split_key(key)
    if rest.encode() != suffix:
        raise InvalidKey(f"not a {suffix.decode()} row key: {key!r:.120}")
    try:
        return validate_service(service)
    except InvalidEvent as err:
        raise InvalidKey(f"bad service in row key {key!r:.120}: {err}") from None
