"""Group commit: concurrent callers for one key share commits instead of racing each other.

A summary row takes one conditional write at a time; N requests of one process committing to it
at once would make N-1 of them lose the version check and retry. Instead a caller adds its items
to the key's next group and either leads it (no commit is running: it commits the group) or waits
for the commit of the group it joined, which starts after it arrived and so holds its items.
Across processes the version check still arbitrates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - the items of a group
T = TypeVar("T")


@dataclass
class _Group(Generic[I, T]):
    items: list[I] = field(default_factory=list)
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


@dataclass
class _Key(Generic[I, T]):
    cond: threading.Condition = field(default_factory=threading.Condition)
    running: bool = False
    next: _Group[I, T] = field(default_factory=_Group)


class GroupCommit(Generic[I, T]):
    """`run(key, items, commit)` returns the result of a `commit(group)` whose group holds `items`
    (and the items of the callers who joined it); it raises what that commit raised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _Key[I, T]] = {}

    def run(self, key: str, items: Sequence[I], commit: Callable[[list[I]], T]) -> T:
        with self._lock:
            slot = self._keys.setdefault(key, _Key())
        with slot.cond:
            group = slot.next
            group.items.extend(items)
            while slot.running and not group.done:
                slot.cond.wait()
            if not group.done:  # nobody is committing: this caller leads its group
                slot.running, slot.next = True, _Group()
        if not group.done:
            self._lead(slot, group, commit)
        return self._outcome(group)

    @staticmethod
    def _lead(slot: _Key[I, T], group: _Group[I, T], commit: Callable[[list[I]], T]) -> None:
        try:
            group.result = commit(group.items)
        except BaseException as err:  # every member of the group sees the failure
            group.error = err
        with slot.cond:
            group.done, slot.running = True, False
            slot.cond.notify_all()

    @staticmethod
    def _outcome(group: _Group[I, T]) -> T:
        if group.error is not None:
            raise group.error
        return group.result  # type: ignore[return-value]
