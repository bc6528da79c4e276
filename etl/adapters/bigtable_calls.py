"""Bigtable v2 RPCs sent as the generated protobuf messages, for the adapter's hot calls.

Why: per commit group the push shapes make four to six table calls, and through the official
client each cost 0.7-1.8 ms of client CPU (proto-plus conversion, the legacy row objects, the data
client's per-call machinery), in a process whose request threads contend for the GIL. The raw
messages behind the proto-plus types (`MutateRowRequest.pb()` ...) cost about half.

What is kept of the official client: the endpoint and credentials (`data_channel`), the routing
header its GAPIC layer sends (`x-goog-request-params`), a deadline on every call, retries of
transient codes for idempotent calls only (`google.api_core.retry`) and its exception types
(`google.api_core.exceptions`, from the gRPC status). CheckAndMutateRow is never retried.

Server-streaming calls (ReadRows, MutateRows) run on a channel with
`grpc.experimental.ChannelOptions.SingleThreadedUnaryStream`: the caller's thread drives the
stream, where grpc's default starts a "channel spin" thread whenever none runs (Thread.start then
waits for the GIL among the request threads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.api_core.gapic_v1 import routing_header
from google.cloud.bigtable_v2.services.bigtable.transports.grpc import BigtableGrpcTransport
from google.cloud.bigtable_v2.types import bigtable as bt
from google.cloud.bigtable_v2.types import data

from etl_core import EtlError

T = TypeVar("T")
Mutation: Any = data.Mutation.pb()
RowFilter: Any = data.RowFilter.pb()
_MutateRowRequest: Any = bt.MutateRowRequest.pb()
_MutateRowsRequest: Any = bt.MutateRowsRequest.pb()
_ReadRowsRequest: Any = bt.ReadRowsRequest.pb()
_CheckAndMutateRowRequest: Any = bt.CheckAndMutateRowRequest.pb()
_RPC = "/google.bigtable.v2.Bigtable/"

SERVER_TIME = -1
"""`timestamp_micros` of a cell the server stamps with its own time (not idempotent)."""
ATTEMPT_S = 20.0
"""Deadline of one attempt (the data client's default for reads)."""
OPERATION_S = 60.0
"""Deadline of a call with its retries (the data client's default for reads)."""
TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED}
)
"""The codes retried on idempotent calls (the data client's defaults)."""
_TRANSIENT_NUMBERS = frozenset(code.value[0] for code in TRANSIENT)
CHANNEL_OPTIONS = (
    (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
    ("grpc.max_send_message_length", -1),  # as the GAPIC transport's channel
    ("grpc.max_receive_message_length", -1),
)


class BigtableError(EtlError, RuntimeError):
    """A write was refused; transient for the caller (the message is redelivered)."""


class _TransientEntries(Exception):
    """Some MutateRows entries failed with a transient code: they are sent again."""


def data_channel(
    emulator_host: str | None, endpoint: str = BigtableGrpcTransport.DEFAULT_HOST
) -> grpc.Channel:
    """A channel to the emulator (plain text, as the official client's) or to `endpoint` with
    Application Default Credentials and the Bigtable data scopes (the GAPIC transport's own
    `create_channel`), both with `CHANNEL_OPTIONS`.

    Not the data client's channel (`BigtableDataClient().transport.grpc_channel`): it cannot take
    the option, and on it a 5-row MutateRows cost 0.75 ms of client CPU and a 3-row ReadRows
    0.82 ms, against 0.42 and 0.39 here. What this one lacks: the data client's refresh and
    PingAndWarm of its channel every 35-45 minutes. gRPC reconnects by itself when the service
    ends a connection; a call cut then is retried if idempotent, and a commit cut then fails
    its batch, which is redelivered (and finds the version moved if the commit was applied)."""
    if emulator_host:
        return grpc.insecure_channel(emulator_host, options=CHANNEL_OPTIONS)
    target = endpoint if ":" in endpoint else f"{endpoint}:443"
    channel: grpc.Channel = BigtableGrpcTransport.create_channel(target, options=CHANNEL_OPTIONS)
    return channel


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, _TransientEntries) or (
        isinstance(error, gexc.GoogleAPICallError) and error.grpc_status_code in TRANSIENT
    )


_RETRY = gretry.Retry(
    predicate=_is_transient, initial=0.01, maximum=1.0, multiplier=2, timeout=OPERATION_S
)


def _serialize(request: Any) -> bytes:
    serialized: bytes = request.SerializeToString()
    return serialized


def _stub(make: Callable[..., Any], method: str, response: Any) -> Any:
    """A multicallable taking the raw request message and answering the raw response message
    (`response`: the proto-plus type)."""
    return make(
        _RPC + method, request_serializer=_serialize, response_deserializer=response.pb().FromString
    )


class TableCalls:
    """Bigtable v2 calls on one table over one channel; requests are raw protobuf messages."""

    def __init__(self, channel: grpc.Channel, table_name: str, app_profile_id: str = "") -> None:
        self._channel = channel
        self._table_name = table_name
        self._app_profile_id = app_profile_id
        params = {"table_name": table_name}
        if app_profile_id:  # the GAPIC layer sends it only when set
            params["app_profile_id"] = app_profile_id
        self._metadata = (routing_header.to_grpc_metadata(params),)
        self._mutate_row = _stub(channel.unary_unary, "MutateRow", bt.MutateRowResponse)
        self._mutate_rows = _stub(channel.unary_stream, "MutateRows", bt.MutateRowsResponse)
        self._read_rows = _stub(channel.unary_stream, "ReadRows", bt.ReadRowsResponse)
        self._check_and_mutate = _stub(
            channel.unary_unary, "CheckAndMutateRow", bt.CheckAndMutateRowResponse
        )

    def close(self) -> None:
        self._channel.close()

    def _call(self, attempt: Callable[[], T], *, retried: bool) -> T:
        """`attempt()` with gRPC errors as the official clients raise them; retried on transient
        codes within `OPERATION_S` if `retried`."""

        def once() -> T:
            try:
                return attempt()
            except grpc.RpcError as error:
                raise gexc.from_grpc_error(error) from None

        return _RETRY(once)() if retried else once()

    def mutate_row(self, key: bytes, mutations: Sequence[Any], *, retried: bool) -> None:
        """One row's mutations in a unary MutateRow."""
        request = _MutateRowRequest(
            table_name=self._table_name,
            app_profile_id=self._app_profile_id,
            row_key=key,
            mutations=mutations,
        )
        self._call(
            lambda: self._mutate_row(request, timeout=ATTEMPT_S, metadata=self._metadata),
            retried=retried,
        )

    def mutate_rows(self, rows: Mapping[bytes, Sequence[Any]], *, retried: bool) -> None:
        """Several rows' mutations in one MutateRows; every entry's status is checked, entries
        that failed with a transient code are sent again (if `retried`), any other failure is a
        `BigtableError`."""
        entries = [_MutateRowsRequest.Entry(row_key=k, mutations=m) for k, m in rows.items()]
        pending = list(entries)

        def attempt() -> None:
            request = _MutateRowsRequest(
                table_name=self._table_name, app_profile_id=self._app_profile_id, entries=pending
            )
            failed = []
            for response in self._mutate_rows(request, timeout=ATTEMPT_S, metadata=self._metadata):
                failed += [(pending[e.index], e.status) for e in response.entries if e.status.code]
            transient = [e for e, s in failed if s.code in _TRANSIENT_NUMBERS]
            if failed and retried and len(transient) == len(failed):
                pending[:] = transient
                raise _TransientEntries(f"{len(failed)} entries: {failed[0][1].message}")
            if failed:
                raise BigtableError(
                    f"{len(failed)} of {len(entries)} row writes failed: {failed[0][1].message}"
                )

        try:
            self._call(attempt, retried=retried)
        except gexc.RetryError as error:
            raise BigtableError(f"row writes still failing after retries: {error}") from None

    def read_rows(
        self, keys: Iterable[bytes], family: str, row_filter: Any
    ) -> dict[bytes, dict[str, bytes]]:
        """The rows of `keys` that exist, each as {qualifier: value} of the newest cell of each
        column of `family` that `row_filter` passes. Retried whole on transient codes."""
        request = _ReadRowsRequest(
            table_name=self._table_name, app_profile_id=self._app_profile_id, filter=row_filter
        )
        request.rows.row_keys.extend(keys)
        return self._call(
            lambda: merge_rows(
                self._read_rows(request, timeout=ATTEMPT_S, metadata=self._metadata), family
            ),
            retried=True,
        )

    def check_and_mutate(
        self, key: bytes, predicate: Any, true: Sequence[Any], false: Sequence[Any]
    ) -> bool:
        """A CheckAndMutateRow; whether `predicate` matched. Never retried: a lost answer shows
        up to the caller as a failed version check."""
        request = _CheckAndMutateRowRequest(
            table_name=self._table_name,
            app_profile_id=self._app_profile_id,
            row_key=key,
            predicate_filter=predicate,
            true_mutations=true,
            false_mutations=false,
        )
        response = self._call(
            lambda: self._check_and_mutate(request, timeout=ATTEMPT_S, metadata=self._metadata),
            retried=False,
        )
        return bool(response.predicate_matched)


def merge_rows(responses: Iterable[Any], family: str) -> dict[bytes, dict[str, bytes]]:
    """Rows from ReadRows' cell chunks, the newest cell of each column of `family` (the protocol:
    a chunk names its row, family and qualifier only when they change; a column's cells come
    newest first; a value may span chunks; `reset_row` drops the row so far, `commit_row` ends
    it). A row with no cell of `family` is there, empty."""
    rows: dict[bytes, dict[str, bytes]] = {}
    cells: dict[str, bytes] = {}
    key, fam, qualifier, value = b"", "", "", b""
    for response in responses:
        for chunk in response.chunks:
            if chunk.reset_row:
                cells, value = {}, b""
                continue
            key = chunk.row_key or key
            if chunk.HasField("family_name"):
                fam = chunk.family_name.value
            if chunk.HasField("qualifier"):
                qualifier = chunk.qualifier.value.decode()
            value += chunk.value
            if chunk.value_size == 0 and fam == family:  # the cell's last chunk
                cells.setdefault(qualifier, value)
            if chunk.value_size == 0:
                value = b""
            if chunk.commit_row:
                rows[key], cells = cells, {}
    return rows
