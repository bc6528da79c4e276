"""The Bigtable adapter's raw RPCs (etl.adapters.bigtable_calls) against the emulator: what they
write is what the official client reads back, cell by cell and timestamp by timestamp; versions
and stamps guard commits; failures come back typed; transient ones are retried where a call is
idempotent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud.bigtable import row_filters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.adapters.bigtable import EVENT, STATUS, BigtableError, EventTable, bigtable_client
from etl.adapters.bigtable_calls import Mutation, TableCalls, data_channel
from etl.service.ports import Expected, StatusRow, encode_int
from etl_core import Event, event_key
from tests.e2e.faults import SETTLE_S, Rig, TcpProxy, wait_until

BASE = datetime(2026, 11, 20, 8, 30, 15, 123000, tzinfo=UTC)


@pytest.fixture
def official(rig: Rig) -> Iterator[Any]:
    """The rig's table through the official (legacy) client."""
    client = bigtable_client(rig.settings)
    yield client.instance(rig.settings.instance).table(rig.settings.table)
    client.close()


def official_cells(official: Any, key: bytes, family: str) -> dict[bytes, list[Any]]:
    """Every cell of one family of a row as the legacy client reads it: values and timestamps."""
    row = official.read_row(key)
    if row is None:
        return {}
    return {q: [(c.value, c.timestamp) for c in cells] for q, cells in row.cells[family].items()}


def latest(official: Any, key: bytes) -> dict[str, bytes]:
    row = official.read_row(key, filter_=row_filters.CellsColumnLimitFilter(1))
    if row is None:
        return {}
    return {q.decode(): cells[0].value for q, cells in row.cells.get(STATUS, {}).items()}


def unique_key() -> bytes:
    return f"prop-{uuid.uuid4().hex}~status".encode()


@pytest.fixture
def calls(rig: Rig, official: Any) -> Iterator[TableCalls]:
    """The raw calls on the rig's table, on a channel of their own."""
    made = TableCalls(data_channel(rig.settings.bigtable_emulator_host), official.name)
    yield made
    made.close()


def test_written_events_read_back_through_the_official_client_stamped_with_their_time(
    rig: Rig, official: Any
) -> None:
    events = [Event("gate", BASE + timedelta(minutes=i), (-1) ** i, f"e{i}") for i in range(3)]
    for batch in (events[:1], events):  # a unary MutateRow, then a MutateRows
        rig.table.write_events(batch)
    for event in events:
        cells = official_cells(official, event_key("gate", event.event_time, event.event_id), EVENT)
        time_text = event.event_time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert cells == {
            b"service": [(b"gate", event.event_time)],
            b"eventTime": [(time_text.encode(), event.event_time)],
            b"event": [(str(event.delta).encode(), event.event_time)],
        }
    assert list(rig.table.scan_events("gate")) == events


def test_snapshots_read_back_as_the_original_designs_cells(rig: Rig, official: Any) -> None:
    keys = [event_key("gate", BASE, f"s{i}") for i in range(2)]
    for snapshots in ({keys[0]: 7}, {keys[0]: 3, keys[1]: -2}):
        rig.table.write_snapshots(snapshots, BASE)
    for key, occupancy in zip(keys, (3, -2), strict=True):
        assert latest(official, key) == {
            "currentOccupancy": encode_int(occupancy),
            "writeTime": b"2026-11-20T08:30:15.123Z",
        }


qualifiers = st.sampled_from(["a", "b", "stamp", "z"])
commits = st.lists(
    st.tuples(st.dictionaries(qualifiers, st.binary(max_size=40)), st.sets(qualifiers)),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=20, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commits=commits)
def test_committed_cells_are_what_both_clients_read_and_the_version_counts_commits(
    rig: Rig, official: Any, commits: list[tuple[dict[str, bytes], set[str]]]
) -> None:
    key, model = unique_key(), {}
    for version, (put, delete) in enumerate(commits):
        assert rig.table.commit_status(key, Expected(version), put, delete)
        moved_on = rig.table.commit_status(key, Expected(version), put, delete)
        assert not moved_on, "the version moved on"
        model = {q: v for q, v in model.items() if q not in delete} | put
        assert latest(official, key) == {**model, "version": str(version + 1).encode()}
        assert rig.table.read_statuses([key]) == {key: StatusRow(version + 1, model)}


def test_a_commit_on_the_stamp_applies_only_while_the_stamp_is_the_latest(
    rig: Rig, official: Any
) -> None:
    key, absent = unique_key(), unique_key()
    assert not rig.table.commit_status(absent, Expected(0, b"s1"), {"a": b"1"}, [])
    assert latest(official, absent) == {}
    assert rig.table.commit_status(key, Expected(0), {"stamp": b"s1", "a": b"1"}, [])
    assert not rig.table.commit_status(key, Expected(1, b"s"), {"stamp": b"s9", "a": b"9"}, [])
    assert rig.table.commit_status(key, Expected(1, b"s1"), {"stamp": b"s2", "a": b"2"}, [])
    assert not rig.table.commit_status(key, Expected(1, b"s1"), {"stamp": b"s3"}, [])
    assert latest(official, key) == {"stamp": b"s2", "a": b"2", "version": b"2"}


def test_a_failed_entry_of_a_mutate_rows_is_a_bigtable_error(calls: TableCalls) -> None:
    good = [Mutation(set_cell={"family_name": EVENT, "column_qualifier": b"q", "value": b"v"})]
    bad = [Mutation(set_cell={"family_name": "nosuch", "column_qualifier": b"q", "value": b"v"})]
    with pytest.raises(BigtableError, match="1 of 2 row writes failed"):
        calls.mutate_rows({b"good": good, b"bad": bad}, retried=True)


def test_a_write_to_a_missing_family_is_refused_with_the_official_clients_error(
    calls: TableCalls,
) -> None:
    bad = [Mutation(set_cell={"family_name": "nosuch", "column_qualifier": b"q", "value": b"v"})]
    with pytest.raises(gexc.GoogleAPICallError):
        calls.mutate_row(b"bad", bad, retried=True)


@pytest.fixture
def proxied(rig: Rig) -> Iterator[tuple[EventTable, TcpProxy]]:
    """The rig's table with its hot calls through a TCP proxy that can go down."""
    proxy = TcpProxy(rig.settings.bigtable_emulator_host or "")
    table = EventTable(replace(rig.settings, bigtable_emulator_host=proxy.address))
    yield table, proxy
    table.close()
    proxy.close()


def test_an_idempotent_write_is_retried_until_the_backend_is_back(
    rig: Rig, proxied: tuple[EventTable, TcpProxy]
) -> None:
    table, proxy = proxied
    events = [Event("gate", BASE + timedelta(seconds=i), 1, f"r{i}") for i in range(2)]
    proxy.down()
    failure: list[BaseException] = []
    writer = threading.Thread(target=lambda: _catching(failure, table.write_events, events))
    writer.start()
    wait_until(lambda: proxy.refused > 0, SETTLE_S, "a refused connection")
    proxy.up()
    writer.join(SETTLE_S)
    assert not writer.is_alive()
    assert failure == []
    assert list(rig.table.scan_events("gate")) == events


def test_a_check_and_mutate_is_not_retried(
    official: Any, proxied: tuple[EventTable, TcpProxy]
) -> None:
    table, proxy = proxied
    proxy.down()
    with pytest.raises(gexc.ServiceUnavailable):
        table.commit_status(b"gate~status", Expected(0), {"a": b"1"}, [])
    proxy.up()
    assert latest(official, b"gate~status") == {}


def _catching(failures: list[BaseException], call: Any, *args: Any) -> None:
    try:
        call(*args)
    except Exception as error:  # handed to the test's thread
        failures.append(error)
