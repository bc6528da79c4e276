"""Bigtable adapter: the table `incomingraw_{stage}` through the official client. No business logic.

Cell encodings (also in docs/pipeline.md, "Table schema"):

- event row `event:service` UTF-8, `event:eventTime` `YYYY-MM-DDTHH:MM:SS.mmmZ`, `event:event`
  ASCII `1`/`-1`, all written with the event time as cell timestamp, so a rewrite is idempotent;
  `realTimeStatus:currentOccupancy` 8-byte big-endian int64 and `realTimeStatus:writeTime` ISO.
- status rows (`~status`, `~hourly`) only use `realTimeStatus`; `version` is ASCII decimal so the
  optimistic-concurrency check can match it exactly with a value filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from google.cloud import bigtable
from google.cloud.bigtable import row_filters
from google.cloud.bigtable.data import BigtableDataClient, ReadRowsQuery
from google.cloud.bigtable.data.row_filters import CellsColumnLimitFilter

from etl.config import Settings
from etl.service.ports import StatusRow, decode_int, encode_int
from etl_core import EtlError, Event, decode_event_key, event_key
from etl_core.rowkeys import scan_range
from etl_core.timestamps import format_event_time

EVENT = "event"
STATUS = "realTimeStatus"
_LATEST = row_filters.CellsColumnLimitFilter(1)
COUNTERS_KEY = b"\x00counters"
"""Processing counters of all workers and functions. Starts with a control character, which no
valid service name has, so it can never fall inside a service's key range."""


class BigtableError(EtlError, RuntimeError):
    """A write was refused; transient for the caller (the message is redelivered)."""


class ResetRefused(EtlError, PermissionError):
    """`reset` is never allowed on the prod stage."""


def bigtable_client(settings: Settings) -> bigtable.Client:
    """An admin-capable client of `settings.project`.

    The official client reaches an emulator only through `BIGTABLE_EMULATOR_HOST` in the process
    environment (its data path reads nothing else), so a process that talks to emulators is
    started with it: `Emulators.env()` hands it to child processes."""
    return bigtable.Client(project=settings.project, admin=True)


def _latest_cells(row: Any, family: str) -> dict[str, bytes]:
    if row is None:
        return {}
    columns = row.cells.get(family, {})
    return {qualifier.decode(): cells[0].value for qualifier, cells in columns.items() if cells}


class EventTable:
    """The events table of one stage: event rows, status rows and their cells."""

    def __init__(self, settings: Settings, client: bigtable.Client | None = None) -> None:
        self.settings = settings
        self._client = client or bigtable_client(settings)
        self._table = self._client.instance(settings.instance).table(settings.table)
        self._data_client: Any = None
        self._data: Any = None

    def close(self) -> None:
        if self._data_client is not None:
            self._data_client.close()
        self._client.close()

    # --- schema: etl.toml (created by etl_harness.provision) ---

    def reset(self) -> None:
        """Delete every row of this stage's table (refused in prod); the schema stays."""
        if self.settings.stage == "prod":
            raise ResetRefused("reset deletes every row: refused on stage prod")
        self._table.truncate(timeout=60)

    # --- event rows ---

    def write_events(self, events: Sequence[Event]) -> None:
        """Write the three `event:` cells of each event; idempotent (explicit timestamps)."""
        rows = []
        for event in events:
            row = self._table.direct_row(event_key(event.service, event.event_time, event.event_id))
            stamp = event.event_time
            row.set_cell(EVENT, b"service", event.service.encode(), timestamp=stamp)
            row.set_cell(
                EVENT, b"eventTime", format_event_time(event.event_time).encode(), timestamp=stamp
            )
            row.set_cell(EVENT, b"event", str(event.delta).encode(), timestamp=stamp)
            rows.append(row)
        self._mutate(rows)

    def write_snapshots(self, snapshots: Mapping[bytes, int], at: datetime) -> None:
        """Stamp event rows (by key) with the occupancy known when they were written (the
        original design's cells), in one write."""
        written = format_event_time(at).encode()
        rows = []
        for key, occupancy in snapshots.items():
            row = self._table.direct_row(key)  # newest cell wins; GC keeps one version
            row.set_cell(STATUS, b"currentOccupancy", encode_int(occupancy))
            row.set_cell(STATUS, b"writeTime", written)
            rows.append(row)
        self._mutate(rows)

    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        """Event rows of one service in key order, optionally limited to `[start, end)`."""
        lo, hi = scan_range(service, start, end)
        # Service, time and id are in the key: only `event:event` needs to come back.
        filter_ = row_filters.RowFilterChain(
            filters=[_column(row_filters, EVENT, b"event"), row_filters.CellsColumnLimitFilter(1)]
        )
        for row in self._table.read_rows(start_key=lo, end_key=hi, filter_=filter_):
            yield self._event_from(row)

    def all_rows(self) -> Iterator[tuple[bytes, dict[str, dict[str, bytes]]]]:
        """Every row (events, status, counters) with its latest cells per family."""
        for row in self._table.read_rows(filter_=row_filters.CellsColumnLimitFilter(1)):
            yield row.row_key, {fam: _latest_cells(row, fam) for fam in row.cells}

    @staticmethod
    def _event_from(row: Any) -> Event:
        service, event_time, event_id = decode_event_key(row.row_key)
        delta = int(_latest_cells(row, EVENT)["event"])
        return Event(service=service, event_time=event_time, delta=delta, event_id=event_id)

    # --- counters (ReadModifyWrite increments: metrics, deliberately not idempotent) ---

    def add_counters(self, counters: Mapping[str, int]) -> None:
        row = self._table.append_row(COUNTERS_KEY)
        for name, delta in counters.items():
            row.increment_cell_value(STATUS, name.encode(), delta)
        row.commit()

    def read_counters(self) -> dict[str, int]:
        row = self._table.read_row(COUNTERS_KEY, filter_=row_filters.CellsColumnLimitFilter(1))
        return {name: decode_int(value) for name, value in _latest_cells(row, STATUS).items()}

    # --- status rows (derived summaries, updated with optimistic concurrency) ---

    def read_status(self, key: bytes) -> StatusRow:
        return _status(self._table.read_row(key, filter_=_LATEST))

    def read_statuses(self, keys: Sequence[bytes]) -> dict[bytes, StatusRow]:
        """Several status rows in one ReadRows (an absent row reads as empty, version 0).

        Through the data API: the legacy `read_rows` rebuilds every cell as a `PartialRowData`,
        which cost a sixth of a worker's time on summary rows of thousands of cells."""
        if not keys:
            return {}  # a query without keys would read the whole table
        query = ReadRowsQuery(row_keys=list(keys), row_filter=CellsColumnLimitFilter(1))
        found = {row.row_key: row for row in self._data_table().read_rows(query)}
        return {key: _status_of_data_row(found.get(key)) for key in keys}

    def _data_table(self) -> Any:
        """The table through the data API's client, made on first use."""
        if self._data is None:
            self._data_client = BigtableDataClient(project=self.settings.project)
            self._data = self._data_client.get_table(self.settings.instance, self.settings.table)
        return self._data

    def list_status_keys(self, suffix: bytes) -> list[bytes]:
        """Keys of all status rows ending in `suffix` (e.g. every service's `~status`)."""
        only_keys = row_filters.RowFilterChain(
            filters=[
                row_filters.CellsRowLimitFilter(1),
                row_filters.StripValueTransformerFilter(True),
            ]
        )
        return [
            row.row_key
            for row in self._table.read_rows(filter_=only_keys)
            if row.row_key.endswith(suffix)
        ]

    def commit_status(
        self,
        key: bytes,
        expected_version: int,
        put: Mapping[str, bytes],
        delete: Iterable[str],
        *,
        expected_stamp: bytes | None = None,
    ) -> bool:
        """Apply `put`/`delete` and bump the version iff the version is still `expected_version`
        (or, given `expected_stamp`, iff the `stamp` cell is exactly that)."""
        if expected_stamp is not None:
            checked, value = b"stamp", expected_stamp
        elif expected_version:
            checked, value = b"version", str(expected_version).encode()
        else:  # a row never committed: no version cell yet
            checked, value = b"version", None
        column = _column(row_filters, STATUS, checked)
        predicate = (
            row_filters.RowFilterChain(
                filters=[
                    column,
                    row_filters.CellsColumnLimitFilter(1),
                    row_filters.ValueRangeFilter(value, value),  # both ends inclusive
                ]
            )
            if value is not None
            else column
        )
        state = value is not None
        row = self._table.conditional_row(key, filter_=predicate)
        for qualifier in delete:
            row.delete_cell(STATUS, qualifier.encode(), state=state)
        for qualifier, cell in {**put, "version": str(expected_version + 1).encode()}.items():
            row.delete_cell(STATUS, qualifier.encode(), state=state)
            row.set_cell(STATUS, qualifier.encode(), cell, state=state)
        matched = bool(row.commit())
        return matched if state else not matched

    def _mutate(self, rows: Sequence[Any]) -> None:
        """One row: a unary MutateRow (half the time of a one-row streaming MutateRows);
        several: one MutateRows. Every row's status is checked."""
        if not rows:
            return
        statuses = [rows[0].commit()] if len(rows) == 1 else self._table.mutate_rows(rows)
        failed = [s for s in statuses if s.code != 0]
        if failed:
            raise BigtableError(
                f"{len(failed)} of {len(rows)} row writes failed: {failed[0].message}"
            )


def _column(filters: Any, family: str, qualifier: bytes) -> Any:
    """A filter passing one column, as a range of one qualifier (`filters`: the legacy or the data
    API's `row_filters` module). Not a qualifier regex: the emulator compiles a filter's regex
    for every cell it tests, which made half its CPU on summary rows of many cells."""
    return filters.ColumnRangeFilter(family, qualifier, qualifier)


def _status_of_data_row(row: Any) -> StatusRow:
    """`_status` of a data API row (latest cell of each column only)."""
    if row is None:
        return _status_row({})
    return _status_row({c.qualifier.decode(): c.value for c in row.cells if c.family == STATUS})


def _status(row: Any) -> StatusRow:
    """A status row's latest cells and its version (0 for a row that does not exist)."""
    return _status_row(_latest_cells(row, STATUS))


def _status_row(cells: dict[str, bytes]) -> StatusRow:
    version = int(cells.pop("version", b"0").decode() or 0)
    return StatusRow(version=version, cells=cells)
