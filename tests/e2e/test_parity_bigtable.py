"""Bigtable as Google documents it, through the official Python client: one test per behaviour.

Written from Google's reference (the data model: families in lexicographic order within a row;
`CheckAndMutateRow`, `ReadModifyWriteRow`, row ranges with exclusive ends, filters), not from
their samples. Run against our emulator, Google's cbtemulator (`--etl-emulators=official`) and,
opt-in, Google Cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud.bigtable import column_family, row_filters
from google.cloud.bigtable.row_set import RowRange, RowSet

pytestmark = pytest.mark.parity

# Created deliberately out of order: production keeps families in lexicographic order.
FAMILIES = ("zeta", "alpha", "mid")


@pytest.fixture
def table(etl_bigtable_instance: Any, etl_unique_name: Callable[[str], str]) -> Iterator[Any]:
    table = etl_bigtable_instance.table(etl_unique_name("t").replace("-", "_")[:50])
    table.create(column_families={name: column_family.MaxVersionsGCRule(1) for name in FAMILIES})
    yield table
    table.delete()


def write(table: Any, key: bytes, cells: dict[str, dict[bytes, bytes]]) -> None:
    row = table.direct_row(key)
    for family, columns in cells.items():
        for column, value in columns.items():
            row.set_cell(family, column, value)
    row.commit()


def keys(rows: Any) -> list[bytes]:
    return [row.row_key for row in rows]


@pytest.mark.official_lacks("cbtemulator returns column families in creation order")
def test_a_row_lists_its_families_in_lexicographic_order(table: Any) -> None:
    write(table, b"r", {family: {b"c": family.encode()} for family in FAMILIES})

    row = table.read_row(b"r")

    assert list(row.cells) == sorted(FAMILIES)


@pytest.mark.official_lacks("cbtemulator returns column families in creation order")
def test_cells_per_row_limit_and_offset_count_families_in_lexicographic_order(table: Any) -> None:
    write(table, b"r", {family: {b"c": family.encode()} for family in FAMILIES})

    first = table.read_row(b"r", filter_=row_filters.CellsRowLimitFilter(1))
    rest = table.read_row(b"r", filter_=row_filters.CellsRowOffsetFilter(1))

    assert list(first.cells) == ["alpha"]
    assert list(rest.cells) == ["mid", "zeta"]


def test_check_and_mutate_writes_the_true_or_false_branch_by_the_predicate(table: Any) -> None:
    write(table, b"r", {"alpha": {b"state": b"open"}})
    is_open = row_filters.RowFilterChain(
        filters=[
            row_filters.ColumnQualifierRegexFilter(b"^state$"),
            row_filters.ValueRegexFilter(b"^open$"),
        ]
    )

    for key in (b"r", b"absent"):
        row = table.conditional_row(key, filter_=is_open)
        row.set_cell("mid", b"branch", b"true", state=True)
        row.set_cell("mid", b"branch", b"false", state=False)
        matched = row.commit()
        assert matched is (key == b"r")

    assert table.read_row(b"r").cells["mid"][b"branch"][0].value == b"true"
    assert table.read_row(b"absent").cells["mid"][b"branch"][0].value == b"false"


def test_read_modify_write_increments_and_appends_atomically(table: Any) -> None:
    for _ in range(3):
        row = table.append_row(b"counter")
        row.increment_cell_value("alpha", b"n", 5)
        row.append_cell_value("mid", b"log", b"x")
        result = row.commit()

    assert result["alpha"][b"n"][0][0] == (15).to_bytes(8, "big", signed=True)
    assert result["mid"][b"log"][0][0] == b"xxx"
    decrement = table.append_row(b"counter")
    decrement.increment_cell_value("alpha", b"n", -20)
    assert decrement.commit()["alpha"][b"n"][0][0] == (-5).to_bytes(8, "big", signed=True)


def test_row_ranges_include_the_start_exclude_the_end_and_prefixes_do_not_leak(table: Any) -> None:
    for key in (b"a#1", b"a#2", b"a#3", b"a$", b"b#1"):
        write(table, key, {"alpha": {b"c": key}})

    ranged = table.read_rows(start_key=b"a#1", end_key=b"a#3")
    inclusive = RowSet()
    inclusive.add_row_range(RowRange(start_key=b"a#2", end_key=b"a#3", end_inclusive=True))
    prefix = RowSet()
    prefix.add_row_range_with_prefix("a#")
    several = RowSet()
    several.add_row_key(b"b#1")
    several.add_row_key(b"a#2")

    assert keys(ranged) == [b"a#1", b"a#2"]
    assert keys(table.read_rows(row_set=inclusive)) == [b"a#2", b"a#3"]
    assert keys(table.read_rows(row_set=prefix)) == [b"a#1", b"a#2", b"a#3"]
    assert keys(table.read_rows(row_set=several)) == [b"a#2", b"b#1"]
    assert keys(table.read_rows(limit=2)) == [b"a#1", b"a#2"]


def test_filters_select_by_family_qualifier_value_and_key(table: Any) -> None:
    write(table, b"k1", {"alpha": {b"temp": b"20", b"hum": b"40"}, "mid": {b"temp": b"99"}})
    write(table, b"k2", {"alpha": {b"temp": b"30"}})

    family = table.read_row(b"k1", filter_=row_filters.FamilyNameRegexFilter("mid"))
    qualifier = table.read_row(b"k1", filter_=row_filters.ColumnQualifierRegexFilter(b"^hum$"))
    values = row_filters.ValueRangeFilter(start_value=b"25", end_value=b"50")
    by_key = row_filters.RowKeyRegexFilter(b"^k2$")

    assert list(family.cells) == ["mid"]
    assert list(qualifier.cells["alpha"]) == [b"hum"]
    in_range = {row.row_key: row.cells for row in table.read_rows(filter_=values)}
    assert set(in_range) == {b"k1", b"k2"}
    assert list(in_range[b"k1"]["alpha"]) == [b"hum"]
    assert keys(table.read_rows(filter_=by_key)) == [b"k2"]


def test_the_latest_cell_filter_reads_the_newest_of_two_writes(
    table: Any,
) -> None:
    for value in (b"old", b"new"):
        row = table.direct_row(b"v")
        row.set_cell("alpha", b"c", value)
        row.commit()

    cells = table.read_row(b"v", filter_=row_filters.CellsColumnLimitFilter(1)).cells
    assert [cell.value for cell in cells["alpha"][b"c"]] == [b"new"]
