"""ReadRows' cell chunks merged into rows, however the server splits them (values across chunks,
chunks across responses, a row reset halfway), without an emulator: the splits an emulator
makes are few."""

from __future__ import annotations

from typing import Any

from google.cloud.bigtable_v2.types import bigtable as bt
from hypothesis import given
from hypothesis import strategies as st

from etl.adapters.bigtable_calls import merge_rows

Response: Any = bt.ReadRowsResponse.pb()
FAMILIES = ("realTimeStatus", "event")
cells = st.lists(
    st.tuples(st.sampled_from(FAMILIES), st.sampled_from(["a", "b", "version"]), st.binary()),
    min_size=1,
    max_size=6,
)
rows = st.dictionaries(st.binary(min_size=1, max_size=4), cells, max_size=4)


def chunks_of(key: bytes, row: list[tuple[str, str, bytes]], data: st.DataObject) -> list[Any]:
    """One row's chunks: each value cut at random points; the family named when it changes."""
    out: list[Any] = []
    family = None
    for fam, qualifier, value in row:
        inner = (
            st.sets(st.integers(1, len(value) - 1), max_size=2)
            if len(value) > 1
            else st.just(set())
        )
        cuts = sorted(data.draw(inner))
        pieces = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)]
        for i, piece in enumerate(pieces):
            chunk = Response.CellChunk(value=piece)
            if i == 0:
                chunk.row_key = key if not out else b""
                chunk.qualifier.value = qualifier.encode()
                if fam != family:
                    chunk.family_name.value, family = fam, fam
            if i < len(pieces) - 1:
                chunk.value_size = len(value)
            out.append(chunk)
    out[-1].commit_row = True
    return out


def newest(row: list[tuple[str, str, bytes]], family: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for fam, qualifier, value in row:
        if fam == family:
            found.setdefault(qualifier, value)  # a column's cells come newest first
    return found


@given(rows=rows, family=st.sampled_from(FAMILIES), data=st.data())
def test_merged_rows_hold_the_newest_cell_of_each_column_of_the_family_whatever_the_splits(
    rows: dict[bytes, list[tuple[str, str, bytes]]], family: str, data: st.DataObject
) -> None:
    chunks: list[Any] = []
    for key, row in rows.items():
        if data.draw(st.booleans()):  # a false start the server takes back
            started = chunks_of(key, row, data)[:-1] or [Response.CellChunk(row_key=key)]
            chunks += [*started, Response.CellChunk(reset_row=True)]
        chunks += chunks_of(key, row, data)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(chunks)), max_size=3)))
    responses = [
        Response(chunks=chunks[a:b]) for a, b in zip([0, *cuts], [*cuts, len(chunks)], strict=True)
    ]
    assert merge_rows(responses, family) == {k: newest(r, family) for k, r in rows.items()}
