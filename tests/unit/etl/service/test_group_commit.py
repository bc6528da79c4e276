"""GroupCommit: concurrent callers for one key share commits, and each sees its own items in the
commit it gets the result of."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.service.group_commit import GroupCommit


class Recorder:
    """A commit that blocks until released, recording every group it was given."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.groups.append(list(items))
        self.started.set()
        self.release.wait(10)
        return list(items)


def in_thread(fn: Callable[[], object], out: list[object]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread


def holding(
    groups: GroupCommit[int, list[int]], out: list[object]
) -> tuple[Recorder, threading.Thread]:
    """A commit of `[1]` for key `gate`, started in a thread and held until `release` is set."""
    commit = Recorder()
    thread = in_thread(lambda: groups.run("gate", [1], commit), out)
    assert commit.started.wait(10)
    return commit, thread


def test_callers_arriving_during_a_commit_share_the_next_one() -> None:
    groups: GroupCommit[int, list[int]] = GroupCommit()
    results: list[object] = []
    commit, first = holding(groups, results)
    joiners = [in_thread(lambda i=i: groups.run("gate", [i], commit), results) for i in (2, 3, 4)]
    while sum(1 for t in joiners if t.is_alive()) < 3:
        pass
    commit.release.set()
    for thread in [first, *joiners]:
        thread.join(10)
    assert commit.groups[0] == [1]
    assert sorted(i for group in commit.groups[1:] for i in group) == [2, 3, 4]
    assert len(commit.groups) <= 3, "the latecomers shared commits"
    for result in results:
        assert isinstance(result, list)


def test_keys_do_not_wait_for_each_other() -> None:
    groups: GroupCommit[int, list[int]] = GroupCommit()
    slow, holder = holding(groups, [])
    assert groups.run("gate-north", [2], lambda items: items) == [2]
    slow.release.set()
    holder.join(10)


def test_a_failed_commit_fails_every_caller_of_its_group() -> None:
    groups: GroupCommit[int, None] = GroupCommit()

    def broken(items: list[int]) -> None:
        raise RuntimeError(f"backend down for {items}")

    with pytest.raises(RuntimeError, match="backend down"):
        groups.run("gate", [1], broken)
    assert groups.run("gate", [2], lambda items: None) is None, "the key is usable again"


@settings(deadline=None, max_examples=25)
@given(st.lists(st.integers(), min_size=1, max_size=30))
def test_every_item_is_committed_exactly_once_and_in_the_result_its_caller_gets(
    items: list[int],
) -> None:
    groups: GroupCommit[int, list[int]] = GroupCommit()
    committed: list[int] = []
    lock = threading.Lock()

    def commit(group: list[int]) -> list[int]:
        with lock:
            committed.extend(group)
        return list(group)

    seen: dict[int, list[int]] = {}

    def call(i: int) -> None:
        seen[i] = groups.run("k", [items[i]], commit)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(committed) == sorted(items)
    assert all(items[i] in result for i, result in seen.items())
