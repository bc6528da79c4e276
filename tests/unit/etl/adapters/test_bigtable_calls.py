"""The raw Bigtable calls without an emulator: ReadRows' cell chunks merged into rows however the
server splits them (values across chunks, chunks across responses, a row reset halfway: the
splits an emulator makes are few), and what goes on the wire, seen by a recording gRPC server on
loopback: the routing header, a deadline, MutateRows entries failed with a given code (which no
emulator can be made to answer)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.cloud.bigtable_v2.types import bigtable as bt
from hypothesis import given
from hypothesis import strategies as st

from etl.adapters.bigtable_calls import (
    ATTEMPT_S,
    BigtableError,
    Mutation,
    RowFilter,
    TableCalls,
    data_channel,
    merge_rows,
)

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


class Recorder:
    """A gRPC server on a free loopback port answering the Bigtable methods the calls use: it
    records each request with its metadata and deadline, and answers MutateRows entries with the
    status codes queued in `entry_codes` (one list per attempt; OK when none is queued)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, dict[str, str], float | None]] = []
        self.entry_codes: list[list[int]] = []
        handlers = {
            "MutateRow": grpc.unary_unary_rpc_method_handler(
                self._answer("MutateRow", bt.MutateRowResponse.pb()),
                request_deserializer=bt.MutateRowRequest.pb().FromString,
                response_serializer=bt.MutateRowResponse.pb().SerializeToString,
            ),
            "CheckAndMutateRow": grpc.unary_unary_rpc_method_handler(
                self._answer("CheckAndMutateRow", bt.CheckAndMutateRowResponse.pb()),
                request_deserializer=bt.CheckAndMutateRowRequest.pb().FromString,
                response_serializer=bt.CheckAndMutateRowResponse.pb().SerializeToString,
            ),
            "ReadRows": grpc.unary_stream_rpc_method_handler(
                lambda request, context: iter([self._record("ReadRows", request, context)]),
                request_deserializer=bt.ReadRowsRequest.pb().FromString,
                response_serializer=bt.ReadRowsResponse.pb().SerializeToString,
            ),
            "MutateRows": grpc.unary_stream_rpc_method_handler(
                self._mutate_rows,
                request_deserializer=bt.MutateRowsRequest.pb().FromString,
                response_serializer=bt.MutateRowsResponse.pb().SerializeToString,
            ),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("google.bigtable.v2.Bigtable", handlers)]
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _record(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        metadata = {m.key: m.value for m in context.invocation_metadata()}
        self.seen.append((method, request, metadata, context.time_remaining()))
        return bt.ReadRowsResponse.pb()()

    def _answer(self, method: str, response: Any) -> Any:
        return lambda request, context: (self._record(method, request, context), response())[1]

    def _mutate_rows(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("MutateRows", request, context)
        codes = self.entry_codes.pop(0) if self.entry_codes else []
        entry = bt.MutateRowsResponse.pb().Entry
        entries = [
            entry(index=i, status={"code": codes[i] if i < len(codes) else 0, "message": "m"})
            for i in range(len(request.entries))
        ]
        yield bt.MutateRowsResponse.pb()(entries=entries)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    made = Recorder()
    yield made
    made.server.stop(None)


@pytest.fixture
def calls(recorder: Recorder) -> Iterator[TableCalls]:
    made = TableCalls(data_channel(f"127.0.0.1:{recorder.port}"), TABLE)
    yield made
    made.close()


TABLE = "projects/p/instances/i/tables/t"
SET = Mutation(set_cell={"family_name": "event", "column_qualifier": b"q", "value": b"v"})


def test_every_call_carries_the_routing_header_and_a_deadline(
    recorder: Recorder, calls: TableCalls
) -> None:
    calls.mutate_row(b"k", [SET], retried=True)
    calls.mutate_rows({b"a": [SET], b"b": [SET]}, retried=True)
    calls.read_rows([b"a"], "event", RowFilter(cells_per_column_limit_filter=1))
    calls.check_and_mutate(b"k", RowFilter(pass_all_filter=True), [SET], [])
    assert [method for method, *_ in recorder.seen] == [
        "MutateRow",
        "MutateRows",
        "ReadRows",
        "CheckAndMutateRow",
    ]
    for _, request, metadata, remaining in recorder.seen:
        assert request.table_name == TABLE
        assert metadata["x-goog-request-params"] == f"table_name={TABLE}"
        assert remaining is not None
        assert remaining < 2 * ATTEMPT_S  # the attempt's deadline; without one: about 9.2e18 s


def test_entries_that_failed_transiently_are_sent_again_alone(
    recorder: Recorder, calls: TableCalls
) -> None:
    unavailable = grpc.StatusCode.UNAVAILABLE.value[0]
    recorder.entry_codes = [[0, unavailable, 0]]
    calls.mutate_rows({b"a": [SET], b"b": [SET], b"c": [SET]}, retried=True)
    sent = [[e.row_key for e in request.entries] for _, request, *_ in recorder.seen]
    assert sent == [[b"a", b"b", b"c"], [b"b"]]


@pytest.mark.parametrize(
    ("code", "retried"),
    [(grpc.StatusCode.INVALID_ARGUMENT, True), (grpc.StatusCode.UNAVAILABLE, False)],
)
def test_an_entry_failed_for_good_or_not_to_be_retried_is_a_bigtable_error_at_once(
    recorder: Recorder, calls: TableCalls, code: grpc.StatusCode, retried: bool
) -> None:
    recorder.entry_codes = [[0, code.value[0]]]
    with pytest.raises(BigtableError, match="1 of 2 row writes failed: m"):
        calls.mutate_rows({b"a": [SET], b"b": [SET]}, retried=retried)
    assert len(recorder.seen) == 1
