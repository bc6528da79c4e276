"""What recording and replaying refuse, each a typed error."""

from __future__ import annotations

from etl_core import EtlError


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
