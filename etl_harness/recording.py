"""Recordings of a topic: what `etl record` captures and `etl publish --replay` sends again.

The file is JSON Lines, UTF-8, one object per line with sorted keys, so two recordings diff line
by line. The first line says what the file is and which version of the format it uses:

    {"etl_recording": 1, "project": "local-project", "topic": "acceso-events-dev"}

then one line per message, in publish-time order:

    {"attributes": {"source": "gate-2"}, "data": "eyJzZXJ2aWNlIjog...", "message_id": "17",
     "ordering_key": "siteA", "publish_time": "2026-11-30T12:00:00.250000Z"}

`data` is the payload in standard base64 (payloads are bytes); `publish_time` is the time Pub/Sub
accepted the message, in UTC to the microsecond. `data` and `publish_time` are required;
`attributes` (default `{}`), `ordering_key` (default `""`) and `message_id` (informational:
Pub/Sub gives a replayed message a new id) may be left out of a file written by hand. Blank lines
are skipped; any other key, or a value of the wrong type, is refused with `file:line`.

A replay keeps the file's order and the spacing of the publish times divided by the speed factor
(`schedule`). Version 1 is the only version; a file of another version is refused, not guessed at.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from google.api_core import exceptions as gexc

from etl.adapters.pubsub import ACK_DEADLINE_S, Outgoing, PubSub, subscription_request
from etl.config import Settings
from etl_core import EtlError

VERSION = 1
MARK = "etl_recording"
"""The first line's key; its value is the format version."""
KEYS = {"data", "publish_time", "attributes", "ordering_key", "message_id"}
BATCH = 1000
"""Messages per pull, and at most per publish call of a replay (a publish request's cap)."""
POLL_S = 5.0
"""Longest wait of one pull: a `--duration` or Ctrl-C is noticed within it."""
EXPIRY_S = 24 * 3600
"""Production deletes the temporary subscription after a day unused if it outlives us (kill -9)."""

Stopped = Literal["limit", "duration", "interrupted"]


class RecordingError(EtlError):
    """Root of what recording and replaying refuse."""


class BadRecording(RecordingError, ValueError):
    """A line of a recording that cannot be read; says `file:line: problem`."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source, self.line, self.problem = source, line, problem


class UnsupportedVersion(BadRecording):
    """A recording of a format version this `etl` does not read."""


class NotARecording(BadRecording):
    """`--replay` of a file that `etl record` did not write."""


class RecordingWithoutReplay(RecordingError, ValueError):
    """A recording given to `etl publish` without `--replay` (its lines are not messages)."""


class InvalidSpeedFactor(RecordingError, ValueError):
    """A speed factor that is not a number above 0."""


class InvalidTopic(RecordingError, ValueError):
    """A topic path where a topic name (of the configured project) is expected."""


class TopicNotFound(RecordingError, LookupError):
    """The topic to record or replay into does not exist."""


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    data: bytes
    publish_time: datetime
    attributes: Mapping[str, str] = field(default_factory=dict)
    ordering_key: str = ""
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class Recording:
    topic: str
    project: str
    messages: tuple[RecordedMessage, ...] = ()


# --- the file ---


def lines(recording: Recording) -> Iterator[str]:
    """The file's lines, without line breaks."""
    yield _dumps({MARK: VERSION, "project": recording.project, "topic": recording.topic})
    for m in recording.messages:
        yield _dumps(
            {
                "attributes": dict(m.attributes),
                "data": base64.b64encode(m.data).decode("ascii"),
                "message_id": m.message_id,
                "ordering_key": m.ordering_key,
                "publish_time": _timestamp(m.publish_time),
            }
        )


def write(recording: Recording, path: Path) -> None:
    path.write_text("".join(f"{line}\n" for line in lines(recording)), encoding="utf-8")


def is_header(line: bytes) -> bool:
    """Whether `line` is the first line of a recording (of any version)."""
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and MARK in value


def parse(raw_lines: Iterable[bytes], source: str) -> Recording:
    """A recording from its lines; `source` names it in errors (`file:line: problem`)."""
    numbered = enumerate(raw_lines, start=1)
    first = next(numbered, (1, b""))[1]
    topic, project = _header(first, source)
    messages = tuple(
        _message(raw, source, number) for number, raw in numbered if raw.strip(b" \t\r\n")
    )
    return Recording(topic, project, messages)


def read(path: Path) -> Recording:
    with path.open("rb") as stream:
        return parse(stream, str(path))


def _header(raw: bytes, source: str) -> tuple[str, str]:
    value = _object(raw, source, 1) if is_header(raw) else None
    if value is None:
        raise NotARecording(
            source,
            1,
            f'not a recording of `etl record` (its first line is {{"{MARK}": {VERSION}, …}}); '
            "without --replay, `etl publish` sends each line as it is",
        )
    if value[MARK] != VERSION or isinstance(value[MARK], bool):
        raise UnsupportedVersion(
            source,
            1,
            f"recording format version {value[MARK]!r}; this etl reads version {VERSION}",
        )
    topic, project = value.get("topic"), value.get("project", "")
    if not isinstance(topic, str) or not topic or "/" in topic:
        raise BadRecording(source, 1, "the header needs the recorded topic's name (`topic`)")
    if not isinstance(project, str):
        raise BadRecording(source, 1, "`project` must be a string")
    return topic, project


def _message(raw: bytes, source: str, number: int) -> RecordedMessage:
    value = _object(raw, source, number)

    def bad(problem: str) -> BadRecording:
        return BadRecording(source, number, problem)

    if unknown := sorted(set(value) - KEYS):
        raise bad(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    for key in ("data", "publish_time"):
        if key not in value:
            raise bad(f"missing {key!r}")
    texts = {k: value.get(k, "") for k in ("data", "publish_time", "ordering_key", "message_id")}
    for key, text in texts.items():
        if not isinstance(text, str):
            raise bad(f"{key!r} must be a string, got {text!r}")
    attributes = value.get("attributes", {})
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise bad("'attributes' must be an object of strings")
    try:
        data = base64.b64decode(texts["data"], validate=True)
    except binascii.Error as err:
        raise bad(f"'data' is not base64 ({err})") from err
    return RecordedMessage(
        data=data,
        publish_time=_instant(texts["publish_time"], bad),
        attributes=attributes,
        ordering_key=texts["ordering_key"],
        message_id=texts["message_id"],
    )


def _object(raw: bytes, source: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise BadRecording(source, number, f"not a JSON line ({err})") from err
    if not isinstance(value, dict):
        raise BadRecording(source, number, "not a JSON object")
    return value


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _timestamp(moment: datetime) -> str:
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def _instant(text: str, bad: Callable[[str], BadRecording]) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise bad(f"'publish_time' is not an RFC 3339 time: {text!r}") from err
    if moment.tzinfo is None:
        raise bad(f"'publish_time' has no time zone (end it with Z): {text!r}")
    return moment.astimezone(UTC)


# --- timing ---


def checked_speed_factor(speed_factor: float) -> float:
    if not speed_factor > 0:  # NaN too
        raise InvalidSpeedFactor(f"--speed-factor must be > 0, got {speed_factor:g}")
    return speed_factor


def schedule(publish_times: Sequence[datetime], speed_factor: float) -> list[float]:
    """Seconds from the start of a replay at which each message is sent: the spacing of the
    publish times divided by `speed_factor` (2: twice as fast). The first is sent at once; a
    time earlier than the one before it is sent right after that one (the file's order wins)."""
    checked_speed_factor(speed_factor)
    offsets: list[float] = []
    for moment in publish_times:
        scaled = (moment - publish_times[0]).total_seconds() / speed_factor
        offsets.append(max(scaled, offsets[-1]) if offsets else 0.0)
    return offsets


# --- recording and replaying, over the official client ---


@dataclass(frozen=True, slots=True)
class Capture:
    """What `record` got, through which temporary subscription, and why it stopped."""

    recording: Recording
    subscription: str
    stopped: Stopped


def temporary_subscription(topic: str) -> str:
    return f"etl-record-{topic[:200]}-{uuid.uuid4().hex[:8]}"


def record(
    bus: PubSub,
    topic: str,
    limit: int | None = None,
    duration: float | None = None,
    on_ready: Callable[[str], None] = lambda _: None,
    on_recorded: Callable[[int], None] = lambda _: None,
) -> Capture:
    """Messages published to `topic` from now on, through a subscription made for this call and
    deleted when it ends, however it ends. Stops after `limit` messages, after `duration`
    seconds, or at Ctrl-C (KeyboardInterrupt: what was recorded is kept). `on_ready(name)` once
    the subscription exists (messages published before are not seen); `on_recorded(n)` after
    each batch. Messages come back sorted by publish time; the subscription has message ordering
    on, so messages of one ordering key with the same publish time keep their order."""
    name = temporary_subscription(topic_name(topic))
    path = bus.subscription_path(name)
    request = subscription_request(
        bus.settings.project,
        name,
        topic,
        ordering=True,
        ack_deadline_seconds=ACK_DEADLINE_S,
    )
    request["expiration_policy"] = {"ttl": {"seconds": EXPIRY_S}}
    try:
        try:
            bus.subscriber.create_subscription(request=request)
        except gexc.NotFound as err:
            raise _no_topic(bus, topic) from err
        on_ready(name)
        received, stopped = _pull(bus, path, limit, duration, on_recorded)
    finally:
        with contextlib.suppress(gexc.NotFound):
            bus.subscriber.delete_subscription(request={"subscription": path})
    ordered = sorted(received, key=lambda m: m.publish_time)
    return Capture(Recording(topic, bus.settings.project, tuple(ordered)), name, stopped)


def _pull(
    bus: PubSub,
    path: str,
    limit: int | None,
    duration: float | None,
    on_recorded: Callable[[int], None],
) -> tuple[list[RecordedMessage], Stopped]:
    seen: dict[str, RecordedMessage] = {}  # by message id: delivery is at least once
    end = None if duration is None else time.monotonic() + duration
    try:
        while limit is None or len(seen) < limit:
            left = POLL_S if end is None else end - time.monotonic()
            if left <= 0:
                return list(seen.values()), "duration"
            wanted = BATCH if limit is None else min(BATCH, limit - len(seen))
            wait = max(min(left, POLL_S), 0.05)
            cut = time.monotonic() + wait
            try:
                response = bus.subscriber.pull(
                    request={"subscription": path, "max_messages": wanted}, timeout=wait
                )
            except (gexc.DeadlineExceeded, gexc.Cancelled):
                # Nothing published before our timeout: DEADLINE_EXCEEDED, or CANCELLED when the
                # server gives up waiting at that very moment (the emulator's 500 ms wait).
                if time.monotonic() < cut:
                    raise
                continue
            if not response.received_messages:
                continue
            before = len(seen)
            for received in response.received_messages:
                seen.setdefault(received.message.message_id, _recorded(received.message))
            bus.subscriber.acknowledge(
                request={
                    "subscription": path,
                    "ack_ids": [r.ack_id for r in response.received_messages],
                }
            )
            on_recorded(len(seen) - before)
    except KeyboardInterrupt:
        return list(seen.values()), "interrupted"
    return list(seen.values()), "limit"


def _recorded(message: Any) -> RecordedMessage:
    t = message.publish_time  # the client's DatetimeWithNanoseconds, UTC
    return RecordedMessage(
        data=bytes(message.data),
        publish_time=datetime(
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, tzinfo=UTC
        ),
        attributes=dict(message.attributes),
        ordering_key=message.ordering_key,
        message_id=message.message_id,
    )


class Publisher(Protocol):
    """What `replay` needs of `etl.adapters.pubsub.PubSub`."""

    settings: Settings

    def publish(self, topic: str, messages: Iterable[Outgoing]) -> list[str]: ...


def replay(
    bus: Publisher,
    recording: Recording,
    speed_factor: float = 1.0,
    on_published: Callable[[int], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Publish the recording's messages to its topic in the file's order, at `schedule`'s
    offsets, with their attributes and ordering keys; returns how many. The messages due at the
    same moment (or already late) go in one publish call, waited for before the next."""
    messages = recording.messages
    offsets = schedule([m.publish_time for m in messages], speed_factor)
    start = clock()
    sent = 0
    while sent < len(messages):
        wait = start + offsets[sent] - clock()
        if wait > 0:
            sleep(wait)
        due = clock() - start
        end = sent + 1
        while end < len(messages) and end - sent < BATCH and offsets[end] <= due:
            end += 1
        batch = [Outgoing(m.data, m.ordering_key, m.attributes) for m in messages[sent:end]]
        try:
            bus.publish(recording.topic, batch)
        except gexc.NotFound as err:
            raise _no_topic(bus, recording.topic) from err
        on_published(len(batch))
        sent = end
    return sent


def topic_name(topic: str) -> str:
    """`topic`, checked to be a name (of the configured project), not a path."""
    if "/" in topic:
        raise InvalidTopic(f"a topic name, not a path, is expected: {topic!r}")
    return topic


def _no_topic(bus: Publisher, topic: str) -> TopicNotFound:
    return TopicNotFound(f"topic {topic!r} does not exist in project {bus.settings.project}")
