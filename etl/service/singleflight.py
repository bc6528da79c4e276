"""At most one refresh per key at a time in this process; latecomers share the next one.

Refreshes are optimistic (CheckAndMutate on a version), so N concurrent refreshes of one service in
one process would make N-1 of them lose and retry. Instead, a caller that arrives while a refresh
runs waits for the *next* refresh, which starts after it arrived and so sees its dirty marker
(written before it arrived). Across processes, the version check still arbitrates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    cond: threading.Condition = field(default_factory=threading.Condition)
    started: int = 0
    finished: int = 0
    running: bool = False
    result: T | None = None


class SingleFlight(Generic[T]):
    """`run(key, fn)` returns the result of an `fn()` call that started after this call began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}

    def run(self, key: str, fn: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.setdefault(key, _Flight())
        with flight.cond:
            needed = flight.started + 1  # a refresh that starts after this call began
            while flight.finished < needed:
                if not flight.running:
                    break
                flight.cond.wait()
            else:
                return cast(T, flight.result)
            flight.running = True
            flight.started += 1
            mine = flight.started
        try:
            result = fn()
        except BaseException:
            with flight.cond:
                flight.running = False
                flight.cond.notify_all()
            raise
        with flight.cond:
            flight.running = False
            flight.finished = mine
            flight.result = result
            flight.cond.notify_all()
        return result
