"""What we rely on from the Bigtable emulator, through the official Python client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.cloud.bigtable import column_family, row_filters
from google.cloud.bigtable.row_set import RowSet

pytestmark = pytest.mark.contract

FAMILIES = {
    "event": column_family.MaxVersionsGCRule(1),
    "realTimeStatus": column_family.MaxVersionsGCRule(1),
}


@pytest.fixture
def table(etl_bigtable_instance: Any, etl_unique_name: Callable[[str], str]) -> Any:
    table = etl_bigtable_instance.table(etl_unique_name("t").replace("-", "_")[:50])
    table.create(column_families=FAMILIES)
    yield table
    table.delete()


def put(table: Any, key: bytes, value: bytes = b"1") -> Any:
    row = table.direct_row(key)
    row.set_cell("event", b"event", value)
    return row


def keys(rows: Any) -> list[bytes]:
    return [row.row_key for row in rows]


def test_admin_client_creates_the_table_with_both_column_families(table: Any) -> None:
    assert set(table.list_column_families()) == {"event", "realTimeStatus"}


def test_mutate_rows_writes_a_batch_and_reports_a_status_per_row(table: Any) -> None:
    statuses = table.mutate_rows([put(table, f"svc#{i:04d}".encode()) for i in range(500)])
    assert [s.code for s in statuses] == [0] * 500
    assert len(list(table.read_rows())) == 500


def test_read_modify_write_increments_a_big_endian_int64_counter(table: Any) -> None:
    for _ in range(3):
        row = table.append_row(b"svc#~status")
        row.increment_cell_value("realTimeStatus", b"count", 2)
        result = row.commit()
    assert result["realTimeStatus"][b"count"][0][0] == (6).to_bytes(8, "big", signed=True)


def test_check_and_mutate_applies_only_when_the_predicate_matches(table: Any) -> None:
    version_is_1 = row_filters.RowFilterChain(
        filters=[
            row_filters.ColumnQualifierRegexFilter(b"^version$"),
            row_filters.ValueRegexFilter(b"^1$"),
        ]
    )
    first = table.conditional_row(b"svc#~status", filter_=version_is_1)
    first.set_cell("realTimeStatus", b"version", b"1", state=False)
    assert first.commit() is False  # predicate did not match: the false branch wrote version 1
    second = table.conditional_row(b"svc#~status", filter_=version_is_1)
    second.set_cell("realTimeStatus", b"version", b"2", state=True)
    assert second.commit() is True
    cells = table.read_row(b"svc#~status", filter_=row_filters.CellsColumnLimitFilter(1)).cells
    assert cells["realTimeStatus"][b"version"][0].value == b"2"


def test_prefix_and_range_scans_are_end_exclusive_and_do_not_leak_between_prefixes(
    table: Any,
) -> None:
    table.mutate_rows(
        [
            put(table, k)
            for k in (b"gate#1", b"gate#2", b"gate#3", b"gate-north#1", b"gate\\#south#1")
        ]
    )
    assert keys(table.read_rows(start_key=b"gate#", end_key=b"gate$")) == [
        b"gate#1",
        b"gate#2",
        b"gate#3",
    ]
    assert keys(table.read_rows(start_key=b"gate#1", end_key=b"gate#3")) == [b"gate#1", b"gate#2"]
    rows = RowSet()
    rows.add_row_range_with_prefix("gate-")
    assert keys(table.read_rows(row_set=rows)) == [b"gate-north#1"]


def test_drop_row_range_deletes_exactly_one_prefix(table: Any) -> None:
    table.mutate_rows([put(table, k) for k in (b"a#1", b"a#2", b"ab#1", b"b#1")])
    table.drop_by_prefix(b"a#")
    assert keys(table.read_rows()) == [b"ab#1", b"b#1"]
