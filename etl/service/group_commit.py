"""Group commit: concurrent callers for one key share commits instead of racing each other.

A summary row takes one conditional write at a time; N requests of one process committing to it
at once would make N-1 of them lose the version check and retry. Instead a caller adds its items
to the key's next group and either leads it (no commit is running: it commits the group) or waits
for the commit of the group it joined, which starts after it arrived and so holds its items.
Across processes the version check still arbitrates.

Each group has its own events: when a commit ends, it wakes the members of its own group (their
answer is ready) and the one member that leads the next group, not every caller of the key. With
a function's whole concurrency (dozens of requests) waiting on one key, waking them all for every
commit made most of the handoff's cost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - the items of a group
T = TypeVar("T")


@dataclass(eq=False)
class _Group(Generic[I, T]):
    items: list[I] = field(default_factory=list)
    turn: threading.Event = field(default_factory=threading.Event)
    """Set when the group may commit: its leader waits on it."""
    done: threading.Event = field(default_factory=threading.Event)
    """Set when its commit ended: the other members wait on it."""
    result: T | None = None
    error: BaseException | None = None


@dataclass(eq=False)
class _Key(Generic[I, T]):
    running: bool = False
    """A commit of this key is in flight."""
    next: _Group[I, T] | None = None
    """The group collecting callers while that commit runs; its first caller leads it."""


class GroupCommit(Generic[I, T]):
    """`run(key, items, commit)` returns the result of a `commit(group)` whose group holds `items`
    (and the items of the callers who joined it); it raises what that commit raised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _Key[I, T]] = {}

    def run(self, key: str, items: Sequence[I], commit: Callable[[list[I]], T]) -> T:
        slot, group, leads = self._join(key, items)
        if not leads:
            group.done.wait()
        else:
            group.turn.wait()
            self._lead(slot, group, commit)
        if group.error is not None:
            raise group.error
        return group.result  # type: ignore[return-value]

    def _join(self, key: str, items: Sequence[I]) -> tuple[_Key[I, T], _Group[I, T], bool]:
        """The key's slot, the group `items` joined, and whether this caller leads it."""
        with self._lock:
            slot = self._keys.get(key)
            if slot is None:
                slot = self._keys[key] = _Key()
            if not slot.running:  # nothing in flight: commit these items at once
                slot.running = True
                group: _Group[I, T] = _Group(list(items))
                group.turn.set()
                return slot, group, True
            leads = slot.next is None
            if leads:
                slot.next = _Group()
            group = slot.next  # type: ignore[assignment]
            group.items.extend(items)
            return slot, group, leads

    def _lead(self, slot: _Key[I, T], group: _Group[I, T], commit: Callable[[list[I]], T]) -> None:
        """Commit `group` (once its turn came), then hand the key to the next group's leader."""
        with self._lock:
            if slot.next is group:  # later callers form the group after this one
                slot.next = None
        try:
            group.result = commit(group.items)
        except BaseException as err:  # every member of the group sees the failure
            group.error = err
        with self._lock:
            following = slot.next
            if following is None:
                slot.running = False
        if following is not None:
            following.turn.set()
        group.done.set()
