"""Bigtable aggregate column families as Google documents them ("Aggregate values at write time"):
a family whose value type is an int64 aggregate (Sum, Min or Max) merges every `AddToCell` into
one cell per timestamp, read back as an 8-byte big-endian int64; a HyperLogLog++ family
(`HyperLogLogPlusPlusUniqueCount`) keeps a ZetaSketch HLL++ sketch of every input, the bytes
BigQuery's and Bigtable SQL's `HLL_COUNT` functions read, decoded here with zetasketch-py (a
port of Google's ZetaSketch). Through the official Python client (the admin GAPIC client for the
family types, the data API for `AddToCell`, the GAPIC data client for `MergeToCell`, which the
data API lacks). cbtemulator, like bttest before our layer, keeps the newest input in Min, Max
and HLL++ families.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from google.api_core.exceptions import InvalidArgument
from google.cloud.bigtable.data import BigtableDataClient
from google.cloud.bigtable.data.mutations import AddToCell
from google.cloud.bigtable_admin_v2.types import ColumnFamily, Table, Type
from google.cloud.bigtable_v2.types import Mutation, Value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zetasketch_py import HyperLogLogPlusPlus

from etl.config import Settings
from etl_harness import etl_toml, provision

pytestmark = pytest.mark.parity

INPUTS = (5, -3, 12, 7, 40, 0, 9)
TIMESTAMP = 1_000_000
# ZetaSketch's default precisions (BigQuery's HLL_COUNT.INIT default), what our emulator uses.
HLL_PRECISION, HLL_SPARSE_PRECISION = 15, 20
CBT_KEEPS_NEWEST_HLL = "cbtemulator keeps the newest input in an HLL++ family"


def int64_family(**aggregator: Any) -> ColumnFamily:
    aggregate = Type.Aggregate(input_type=Type(int64_type=Type.Int64()), **aggregator)
    return ColumnFamily(value_type=Type(aggregate_type=aggregate))


@pytest.fixture
def aggregates(
    etl_bigtable_client: Any, etl_bigtable_instance: Any, etl_unique_name: Callable[[str], str]
) -> Iterator[Any]:
    """A table with families `total` (Sum), `low` (Min), `high` (Max) and `visitors` (HLL++),
    through the data API."""
    table_id = etl_unique_name("agg").replace("-", "_")[:50]
    families = {
        "total": int64_family(sum=Type.Aggregate.Sum()),
        "low": int64_family(min_=Type.Aggregate.Min()),
        "high": int64_family(max_=Type.Aggregate.Max()),
        "visitors": int64_family(
            hllpp_unique_count=Type.Aggregate.HyperLogLogPlusPlusUniqueCount()
        ),
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


def only_cell(table: Any, family: str, row: bytes = b"site#1") -> bytes:
    """The value of the one cell of `family`, column `n`, in `row`."""
    found = table.read_row(row)
    assert found is not None
    cells = found.get_cells(family, b"n")
    assert len(cells) == 1
    value: bytes = cells[0].value
    return value


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
        'families.visitors = { aggregate = "hll" }\n'
    )
    provision.ensure(settings, declared)
    data = BigtableDataClient(project=settings.project)
    table = data.get_table(settings.instance, f"peaks_{settings.stage}")
    try:
        add_all(table, "high")
        add_all(table, "total")
        add_all(table, "visitors")
        assert cell_values(table, "high") == [max(INPUTS)]
        assert cell_values(table, "total") == [sum(INPUTS)]
        assert HyperLogLogPlusPlus.from_bytes(only_cell(table, "visitors")).result() == len(INPUTS)
    finally:
        table.close()
        data.close()


def zetasketch_of(values: Iterable[Any], kind: type = int) -> HyperLogLogPlusPlus[Any]:
    """ZetaSketch's own sketch of `values`, at the precisions our emulator uses."""
    sketch: HyperLogLogPlusPlus[Any] = HyperLogLogPlusPlus(
        kind, HLL_PRECISION, HLL_SPARSE_PRECISION
    )
    for value in values:
        sketch.add(value)
    return sketch


def hll_tolerance(distinct: int) -> float:
    """Three standard errors of an HLL++ estimate at our precision (1.04 / sqrt(2^15))."""
    return 3 * 1.04 / math.sqrt(2**HLL_PRECISION) * distinct


def add_each(
    table: Any, values: Iterable[int], row: bytes = b"site#1", per_request: int = 100
) -> None:
    """One `AddToCell` into `visitors` per value, `per_request` of them to a `MutateRow`."""
    pending = list(values)
    for start in range(0, len(pending), per_request):
        batch = pending[start : start + per_request]
        table.mutate_row(row, [AddToCell("visitors", b"n", v, TIMESTAMP) for v in batch])


def gapic_mutate(client: Any, table: Any, mutation: Mutation) -> None:
    """One mutation of row `site#1` through the GAPIC data client (the data API has no
    `MergeToCell`)."""
    client.table_data_client.mutate_row(
        table_name=table.table_name, row_key=b"site#1", mutations=[mutation]
    )


def merge_to_cell(raw: bytes) -> Mutation:
    return Mutation(
        merge_to_cell=Mutation.MergeToCell(
            family_name="visitors",
            column_qualifier=Value(raw_value=b"n"),
            timestamp=Value(raw_timestamp_micros=TIMESTAMP),
            input=Value(raw_value=raw),
        )
    )


@pytest.mark.official_lacks(CBT_KEEPS_NEWEST_HLL)
def test_an_hll_family_keeps_zetasketchs_sketch_of_every_input(aggregates: Any) -> None:
    """2,000 distinct int64s, each added twice: the cell is ZetaSketch's sketch of those longs,
    byte for byte, counting 4,000 inputs and estimating 2,000 distinct within HLL's error."""
    values = [v * 7919 - 50_000 for v in range(2_000)] * 2
    add_each(aggregates, values)
    stored = only_cell(aggregates, "visitors")
    assert stored == zetasketch_of(values).to_bytes()
    decoded = HyperLogLogPlusPlus.from_bytes(stored)
    assert decoded.num_values() == len(values)
    assert abs(decoded.result() - 2_000) <= hll_tolerance(2_000)


@pytest.mark.official_lacks(CBT_KEEPS_NEWEST_HLL)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.lists(st.integers(-(2**63) + 1, 2**63 - 1), min_size=1, max_size=60),
    per_request=st.integers(1, 60),
)
def test_the_sketch_depends_on_the_inputs_only_not_their_order_or_batching(
    aggregates: Any, values: list[int], per_request: int
) -> None:
    row = f"prop#{uuid.uuid4()}".encode()
    add_each(aggregates, values, row, per_request)
    assert only_cell(aggregates, "visitors", row) == zetasketch_of(sorted(values)).to_bytes()


@pytest.mark.official_lacks(CBT_KEEPS_NEWEST_HLL)
def test_merge_to_cell_merges_a_sketch_made_elsewhere(
    aggregates: Any, etl_bigtable_client: Any
) -> None:
    """A sketch of 1,000..2,499 made by ZetaSketch merges into a cell of 0..1,499: the union."""
    add_each(aggregates, range(1_500))
    elsewhere = zetasketch_of(range(1_000, 2_500))
    gapic_mutate(etl_bigtable_client, aggregates, merge_to_cell(elsewhere.to_bytes()))
    merged = HyperLogLogPlusPlus.from_bytes(only_cell(aggregates, "visitors"))
    assert merged.num_values() == 3_000
    assert abs(merged.result() - 2_500) <= hll_tolerance(2_500)
    union = zetasketch_of(range(1_500))
    union.merge(elsewhere)
    assert abs(merged.result() - union.result()) <= hll_tolerance(2_500)


def add_to_cell_of_bytes() -> Mutation:
    return Mutation(
        add_to_cell=Mutation.AddToCell(
            family_name="visitors",
            column_qualifier=Value(raw_value=b"n"),
            timestamp=Value(raw_timestamp_micros=TIMESTAMP),
            input=Value(raw_value=b"visitor-1"),
        )
    )


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(
            add_to_cell_of_bytes,
            id="add-bytes-into-int64",
            marks=pytest.mark.official_lacks(
                "cbtemulator refuses it with UNKNOWN, not InvalidArgument"
            ),
        ),
        pytest.param(
            lambda: merge_to_cell(b"not a sketch"),
            id="merge-no-sketch",
            marks=pytest.mark.official_lacks("cbtemulator stores any bytes a MergeToCell sends"),
        ),
        pytest.param(
            lambda: merge_to_cell(zetasketch_of([b"visitor-1"], bytes).to_bytes()),
            id="merge-sketch-of-bytes",
            marks=pytest.mark.official_lacks("cbtemulator stores any bytes a MergeToCell sends"),
        ),
    ],
)
def test_wrong_inputs_into_an_hll_family_are_refused(
    aggregates: Any, etl_bigtable_client: Any, mutation: Callable[[], Mutation]
) -> None:
    """An input of the wrong type is refused with InvalidArgument and the cell is unchanged."""
    add_each(aggregates, [1, 2, 3])
    before = only_cell(aggregates, "visitors")
    with pytest.raises(InvalidArgument):
        gapic_mutate(etl_bigtable_client, aggregates, mutation())
    assert only_cell(aggregates, "visitors") == before
