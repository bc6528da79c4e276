"""Concurrent push deliveries of one process share their event-row writes and their summary
commits (`handlers._together`): whatever groups the threads happen to form, every event is stored
once, folded once into its service's occupancy, and its row carries the occupancy snapshot; a
group that fails fails every delivery in it, so each is redelivered."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.service import ledger
from etl.service.handlers import Runtime, store_and_update
from etl.service.ports import StatusRow
from etl_core import Event, event_key, status_key
from etl_core.occupancy import fold
from tests.unit.etl.fakes import FakeTable

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
BASE = datetime(2026, 11, 27, tzinfo=UTC)


class CountingTable(FakeTable):
    """Counts row writes and how many rows each held; thread-safe like the real client."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.row_writes: list[int] = []

    def write_events(self, events: Sequence[Event]) -> None:
        with self.lock:
            self.row_writes.append(len(events))
            super().write_events(events)

    def commit_status(self, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        with self.lock:
            return super().commit_status(*args, **kwargs)

    def read_statuses(self, keys: Sequence[bytes]) -> dict[bytes, StatusRow]:
        with self.lock:
            return super().read_statuses(keys)


def deliver_concurrently(rt: Runtime, events: Sequence[Event]) -> list[BaseException]:
    """Each event as its own push delivery, on its own thread, all released at once."""
    start = threading.Barrier(len(events))
    errors: list[BaseException] = []

    def one(event: Event) -> None:
        start.wait()
        try:
            store_and_update(rt, [event])
        except Exception as err:  # the test collects what each delivery sees
            errors.append(err)

    threads = [threading.Thread(target=one, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


events_strategy = st.lists(
    st.builds(
        Event,
        service=st.sampled_from(["gate", "door", "lift"]),
        event_time=st.integers(0, 48 * 60).map(lambda m: BASE + timedelta(minutes=m)),
        delta=st.sampled_from([1, -1]),
        event_id=st.uuids().map(str),
    ),
    min_size=1,
    max_size=24,
    unique_by=lambda e: e.event_id,
)


@given(events_strategy)
def test_concurrent_deliveries_fold_every_event_once_however_they_group(
    events: list[Event],
) -> None:
    table = CountingTable()
    rt = Runtime(table=table, bus=None, written_topic="written", clock=lambda: NOW)  # type: ignore[arg-type]
    assert deliver_concurrently(rt, events) == []
    assert sum(table.row_writes) == len(events)  # each row in exactly one write
    assert set(table.events) == {event_key(e.service, e.event_time, e.event_id) for e in events}
    for service, expected in fold(events).items():
        assert ledger.current_occupancy(table.read_status(status_key(service))) == expected
    assert set(table.snapshots) == set(table.events)


class FailingCommits(CountingTable):
    def commit_status(self, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        raise ConnectionError("bigtable unavailable")


def test_a_failed_group_commit_fails_every_delivery_in_it() -> None:
    table = FailingCommits()
    rt = Runtime(table=table, bus=None, written_topic="written", clock=lambda: NOW)  # type: ignore[arg-type]
    events = [Event("gate", BASE + timedelta(minutes=i), 1, f"e{i}") for i in range(8)]
    errors = deliver_concurrently(rt, events)
    assert len(errors) == len(events)  # each delivery answers 500 and is redelivered
    assert all(isinstance(e, ConnectionError) for e in errors)
    with pytest.raises(ConnectionError):
        store_and_update(rt, [Event("gate", BASE, 1, "again")])
