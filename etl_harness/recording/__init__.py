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
(`timing.schedule`). Version 1 is the only version; a file of another version is refused, not
guessed at.
"""

from __future__ import annotations

from etl_harness.recording.errors import (
    BadRecording,
    InvalidSpeedFactor,
    InvalidTopic,
    NotARecording,
    RecordingError,
    RecordingWithoutReplay,
    TopicNotFound,
    UnsupportedVersion,
)
from etl_harness.recording.files import (
    RecordedMessage,
    Recording,
    is_header,
    lines,
    parse,
    read,
    write,
)
from etl_harness.recording.timing import checked_speed_factor, schedule
from etl_harness.recording.transfer import Capture, record, replay, topic_name

__all__ = [
    "BadRecording",
    "Capture",
    "InvalidSpeedFactor",
    "InvalidTopic",
    "NotARecording",
    "RecordedMessage",
    "Recording",
    "RecordingError",
    "RecordingWithoutReplay",
    "TopicNotFound",
    "UnsupportedVersion",
    "checked_speed_factor",
    "is_header",
    "lines",
    "parse",
    "read",
    "record",
    "replay",
    "schedule",
    "topic_name",
    "write",
]
