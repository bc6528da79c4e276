"""The recording file: its messages as data, written and read as versioned JSON Lines."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl_harness.recording.errors import BadRecording, NotARecording, UnsupportedVersion

VERSION = 1
MARK = "etl_recording"
"""The first line's key; its value is the format version."""
KEYS = {"data", "publish_time", "attributes", "ordering_key", "message_id"}


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
