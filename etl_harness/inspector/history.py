"""What Pub/Sub cannot tell afterwards, kept while the inspector runs: backlogs and message counts
per subscription, sampled as the page polls, in bounded ring buffers.

Bound: `MAX_SAMPLES` samples per subscription (a `deque` with that `maxlen`), at most one sample
per `MIN_INTERVAL_S` whatever the number of open pages, and only subscriptions still listed:
at one page's 1 s polling that is the last 10 minutes, at least the last 5 with more pages. The
buffers live in the server, so a page reload finds them; a server restart starts them afresh.

Messages per second are rates of cumulative counters between successive samples (delta over
elapsed seconds): `published` counts the messages published to the subscription's topic that the
inspector saw in the admin API's message log (`new_messages`), and `left` is `published` minus
the backlog: messages that left the backlog (acknowledged, dead-lettered or expired). A counter
that went down (an emulator restart) gives no rate for that interval rather than a negative or
made-up one. The log holds the latest 1,000 messages of all projects: more published between
two samples make `published` an undercount for that interval (and `left` with it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

MAX_SAMPLES = 600
"""Samples kept per subscription."""
MIN_INTERVAL_S = 0.5
"""Seconds between two samples at least: the page polls every second, two pages every half."""
WINDOW_S = 600.0
"""Seconds of history the page draws (`MAX_SAMPLES` one-second polls)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One subscription at monotonic time `at` (seconds): its backlog and the messages ever seen
    published to its topic."""

    at: float
    backlog: int
    published: int

    @property
    def left(self) -> int:
        """Messages that left the backlog so far (up to a constant: the backlog at the start)."""
        return self.published - self.backlog


@dataclass(frozen=True, slots=True)
class Point:
    """A value at monotonic time `at` (seconds)."""

    at: float
    value: float


def rates(counter: Sequence[Point]) -> list[Point]:
    """The rate of a cumulative counter between successive points (delta / elapsed), at the
    later point. No rate for the first point, for points not later than the one before, or for
    an interval where the counter went down (it was reset): never a negative rate."""
    out = []
    for before, after in pairwise(counter):
        elapsed, delta = after.at - before.at, after.value - before.value
        if elapsed > 0 and delta >= 0:
            out.append(Point(after.at, delta / elapsed))
    return out


def new_messages(
    log: Iterable[tuple[str, str]], after: int | None
) -> tuple[dict[str, int], int | None]:
    """Messages per topic in `log` (`(message id, topic)` pairs) that are newer than message id
    `after`, and the newest id now seen (the next call's `after`).

    Our emulator numbers messages 1, 2, 3… server-wide, so the log's newest ids are the messages
    published since the last look. The first look (`after` None) counts nothing: the log shows
    the recent past, not the interval (an empty log, though, makes every later message new). A
    newest id below `after` means the ids started again (an emulator restart): that look counts
    nothing either. Ids that are not decimal are skipped.
    """
    numbered = [(int(mid), topic) for mid, topic in log if mid.isdecimal()]
    newest = max((n for n, _ in numbered), default=None)
    if newest is None:
        return {}, 0 if after is None else after  # after an empty look, every message is new
    if after is None or newest < after:
        return {}, newest
    counts: dict[str, int] = {}
    for number, topic in numbered:
        if number > after:
            counts[topic] = counts.get(topic, 0) + 1
    return counts, newest


class History:
    """Ring buffers of `Sample`s by subscription, and the message-log cursor that feeds them.

    Thread-safe: the page's polls may overlap.
    """

    def __init__(
        self, max_samples: int = MAX_SAMPLES, min_interval: float = MIN_INTERVAL_S
    ) -> None:
        self.max_samples = max_samples
        self.min_interval = min_interval
        self._series: dict[str, deque[Sample]] = {}
        self._published: dict[str, int] = {}
        self._cursor: int | None = None
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self, now: float) -> bool:
        """Whether a sample taken at `now` would be kept (`min_interval` after the last one)."""
        with self._lock:
            return self._last is None or now - self._last >= self.min_interval

    def record(
        self,
        now: float,
        backlogs: Mapping[str, tuple[str, int]],
        log: Iterable[tuple[str, str]],
    ) -> bool:
        """One sample of every subscription in `backlogs` (name → its topic, its backlog), with
        the messages of `log` (`(id, topic)`, any order) counted for their topics. Subscriptions
        no longer listed, and the counts of topics none of them reads, are forgotten. False, and
        nothing changed, if not `due(now)`."""
        with self._lock:
            if self._last is not None and now - self._last < self.min_interval:
                return False
            self._last = now
            counts, self._cursor = new_messages(log, self._cursor)
            topics = {topic for topic, _ in backlogs.values()}
            self._published = {
                topic: self._published.get(topic, 0) + counts.get(topic, 0) for topic in topics
            }
            for gone in self._series.keys() - backlogs.keys():
                del self._series[gone]
            for name, (topic, backlog) in backlogs.items():
                series = self._series.setdefault(name, deque(maxlen=self.max_samples))
                series.append(Sample(now, backlog, self._published.get(topic, 0)))
            return True

    def series(self) -> dict[str, list[Sample]]:
        """A copy of every subscription's samples, oldest first, by name."""
        with self._lock:
            return {name: list(samples) for name, samples in sorted(self._series.items())}
