"""Bigtable aggregate column families as Google documents them ("Aggregate values at write time"):
a family whose value type is an int64 aggregate (Sum, Min or Max) merges every `AddToCell` into
one cell per timestamp, read back as an 8-byte big-endian int64. Through the official Python
client (the admin GAPIC client for the family types, the data API for `AddToCell`). cbtemulator,
like bttest before our layer, keeps the newest input in Min and Max families.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud.bigtable.data import BigtableDataClient
from google.cloud.bigtable.data.mutations import AddToCell
from google.cloud.bigtable_admin_v2.types import ColumnFamily, Table, Type

from etl.config import Settings
from etl_harness import etl_toml, provision

pytestmark = pytest.mark.parity

INPUTS = (5, -3, 12, 7, 40, 0, 9)
TIMESTAMP = 1_000_000


def int64_family(**aggregator: Any) -> ColumnFamily:
    aggregate = Type.Aggregate(input_type=Type(int64_type=Type.Int64()), **aggregator)
    return ColumnFamily(value_type=Type(aggregate_type=aggregate))


@pytest.fixture
def aggregates(
    etl_bigtable_client: Any, etl_bigtable_instance: Any, etl_unique_name: Callable[[str], str]
) -> Iterator[Any]:
    """A table with families `total` (Sum), `low` (Min) and `high` (Max), through the data API."""
    table_id = etl_unique_name("agg").replace("-", "_")[:50]
    families = {
        "total": int64_family(sum=Type.Aggregate.Sum()),
        "low": int64_family(min_=Type.Aggregate.Min()),
        "high": int64_family(max_=Type.Aggregate.Max()),
    }
    admin = etl_bigtable_client.table_admin_client
    admin.create_table(
        parent=etl_bigtable_instance.name,
        table_id=table_id,
        table=Table(column_families=families),
    )
    data = BigtableDataClient(project=etl_bigtable_client.project)
    table = data.get_table(etl_bigtable_instance.instance_id, table_id)
    yield table
    table.close()
    data.close()
    admin.delete_table(name=f"{etl_bigtable_instance.name}/tables/{table_id}")


def add_all(table: Any, family: str, timestamp: int = TIMESTAMP) -> None:
    for value in INPUTS:
        table.mutate_row(b"site#1", [AddToCell(family, b"n", value, timestamp)])


def cell_values(table: Any, family: str) -> list[int]:
    """The family's cells in row `site#1`, column `n`, newest first, as int64."""
    row = table.read_row(b"site#1")
    assert row is not None
    return [struct.unpack(">q", c.value)[0] for c in row.get_cells(family, b"n")]


@pytest.mark.parametrize(
    ("family", "fold"),
    [
        pytest.param("total", sum, id="sum"),
        pytest.param(
            "low",
            min,
            id="min",
            marks=pytest.mark.official_lacks("cbtemulator keeps the newest input in a Min family"),
        ),
        pytest.param(
            "high",
            max,
            id="max",
            marks=pytest.mark.official_lacks("cbtemulator keeps the newest input in a Max family"),
        ),
    ],
)
def test_an_aggregate_family_folds_every_input_into_one_cell(
    aggregates: Any, family: str, fold: Callable[[tuple[int, ...]], int]
) -> None:
    """Sum adds the inputs, Min keeps the smallest, Max the largest: one cell either way."""
    add_all(aggregates, family)
    assert cell_values(aggregates, family) == [fold(INPUTS)]


@pytest.mark.official_lacks("cbtemulator keeps the newest input in a Max family")
def test_each_timestamp_is_a_cell_of_its_own(aggregates: Any) -> None:
    add_all(aggregates, "high")
    aggregates.mutate_row(b"site#1", [AddToCell("high", b"n", -1, TIMESTAMP + 1000)])
    assert cell_values(aggregates, "high") == [-1, max(INPUTS)]


@pytest.mark.official_lacks("cbtemulator keeps the newest input in a Max family")
def test_aggregate_families_declared_in_etl_toml_aggregate(settings: Settings) -> None:
    declared = etl_toml.parse(
        '[[bigtable.tables]]\nname = "peaks_{stage}"\n'
        'families.high = { aggregate = "max" }\n'
        'families.total = { aggregate = "sum", max_age_seconds = 86400 }\n'
    )
    provision.ensure(settings, declared)
    data = BigtableDataClient(project=settings.project)
    table = data.get_table(settings.instance, f"peaks_{settings.stage}")
    try:
        add_all(table, "high")
        add_all(table, "total")
        assert cell_values(table, "high") == [max(INPUTS)]
        assert cell_values(table, "total") == [sum(INPUTS)]
    finally:
        table.close()
        data.close()
