"""When a replay sends each message: the recorded spacing divided by the speed factor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from etl_harness.recording.errors import InvalidSpeedFactor


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
