"""Counters of what a process did (deliveries, retries, dead letters, rows read), kept in memory
and added to the table's shared counters row at most about once a second.

They are metrics, incremented with ReadModifyWrite (not idempotent on purpose: a redelivery is a
delivery), so batching them costs nothing in exactness and saves a write per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from etl.logs import log

Sink = Callable[[Mapping[str, int]], None]

FLUSH_INTERVAL_S = 1.0


class Counters:
    """Totals of this process, and the part not yet flushed to the sink."""

    def __init__(self, interval: float = FLUSH_INTERVAL_S) -> None:
        self.totals: dict[str, int] = {}
        self.interval = interval
        self._unflushed: dict[str, int] = {}
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._timer: threading.Thread | None = None

    def add(self, name: str, n: int = 1) -> None:
        if not n:
            return
        with self._lock:
            self.totals[name] = self.totals.get(name, 0) + n
            self._unflushed[name] = self._unflushed.get(name, 0) + n

    def __getitem__(self, name: str) -> int:
        return self.totals[name]

    def get(self, name: str, default: int = 0) -> int:
        return self.totals.get(name, default)

    def flush(self, sink: Sink, *, force: bool = False) -> None:
        """Send the unflushed counts to `sink` if a second has passed (or `force`); on a failure
        they stay unflushed for the next try."""
        with self._lock:
            if not self._unflushed or (not force and time.monotonic() - self._last < self.interval):
                return
            pending, self._unflushed, self._last = self._unflushed, {}, time.monotonic()
        try:
            sink(pending)
        except Exception:
            with self._lock:
                for name, n in pending.items():
                    self._unflushed[name] = self._unflushed.get(name, 0) + n
            raise

    def flush_in_background(self, sink: Sink) -> None:
        """Flush every `interval` seconds from a daemon thread, so the last counts of a burst
        reach the table without waiting for another request (started once)."""
        if self._timer is not None:
            return

        def loop() -> None:
            while True:
                time.sleep(self.interval)
                try:
                    self.flush(sink)
                except Exception as exc:  # the next tick tries again
                    log.warning("counters not flushed", error=str(exc))

        self._timer = threading.Thread(target=loop, name="counters", daemon=True)
        self._timer.start()
