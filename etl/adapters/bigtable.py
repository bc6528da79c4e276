"""Bigtable adapter: the table `incomingraw_{stage}`. No business logic. The hot calls (event
rows, snapshots, status rows, commits) go as raw Bigtable v2 RPCs (`etl.adapters.bigtable_calls`);
the rest (reset, scans, counters) through the official client.

Cell encodings (also in docs/pipeline.md, "Table schema"):

- event row `event:service` UTF-8, `event:eventTime` `YYYY-MM-DDTHH:MM:SS.mmmZ`, `event:event`
  ASCII `1`/`-1`, all written with the event time as cell timestamp, so a rewrite is idempotent;
  `realTimeStatus:currentOccupancy` 8-byte big-endian int64 and `realTimeStatus:writeTime` ISO.
- status rows (`~status`, `~hourly`) only use `realTimeStatus`; `version` is ASCII decimal so the
  optimistic-concurrency check can match it exactly with a value filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from google.cloud import bigtable
from google.cloud.bigtable import row_filters

from etl.adapters.bigtable_calls import SERVER_TIME, Mutation, RowFilter, TableCalls, data_channel
from etl.adapters.bigtable_calls import BigtableError as BigtableError
from etl.config import Settings
from etl.service.ports import Expected, StatusRow, decode_int, encode_int
from etl_core import EtlError, Event, decode_event_key, event_key
from etl_core.rowkeys import scan_range
from etl_core.timestamps import EPOCH, format_event_time

EVENT = "event"
STATUS = "realTimeStatus"
_LATEST = RowFilter(cells_per_column_limit_filter=1)
COUNTERS_KEY = b"\x00counters"
"""Processing counters of all workers and functions. Starts with a control character, which no
valid service name has, so it can never fall inside a service's key range."""


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
        # A channel of their own (it connects on first use): the official client's channels
        # cannot take the single-threaded streaming option (etl.adapters.bigtable_calls).
        self._calls = TableCalls(data_channel(settings.bigtable_emulator_host), self._table.name)

    def close(self) -> None:
        self._calls.close()
        self._client.close()

    # --- schema: etl.toml (created by etl_harness.provision) ---

    def reset(self) -> None:
        """Delete every row of this stage's table (refused in prod); the schema stays."""
        if self.settings.stage == "prod":
            raise ResetRefused("reset deletes every row: refused on stage prod")
        self._table.truncate(timeout=60)

    # --- event rows ---

    def write_events(self, events: Sequence[Event]) -> None:
        """Write the three `event:` cells of each event; idempotent (explicit timestamps: the
        event time, to the millisecond)."""
        rows = {}
        for event in events:
            stamp = _millis_micros(event.event_time)
            rows[event_key(event.service, event.event_time, event.event_id)] = [
                _set(EVENT, b"service", event.service.encode(), stamp),
                _set(EVENT, b"eventTime", format_event_time(event.event_time).encode(), stamp),
                _set(EVENT, b"event", str(event.delta).encode(), stamp),
            ]
        self._mutate(rows, retried=True)

    def write_snapshots(self, snapshots: Mapping[bytes, int], at: datetime) -> None:
        """Stamp event rows (by key) with the occupancy known when they were written (the
        original design's cells), in one write. Server timestamps (newest cell wins; GC keeps
        one version), so not retried: a late retry could land after a newer snapshot."""
        written = format_event_time(at).encode()
        rows = {
            key: [
                _set(STATUS, b"currentOccupancy", encode_int(occupancy), SERVER_TIME),
                _set(STATUS, b"writeTime", written, SERVER_TIME),
            ]
            for key, occupancy in snapshots.items()
        }
        self._mutate(rows, retried=False)

    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        """Event rows of one service in key order, optionally limited to `[start, end)`."""
        lo, hi = scan_range(service, start, end)
        # Service, time and id are in the key: only `event:event` needs to come back.
        filter_ = row_filters.RowFilterChain(
            filters=[_column(EVENT, b"event"), row_filters.CellsColumnLimitFilter(1)]
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
        return self.read_statuses([key])[key]

    def read_statuses(self, keys: Sequence[bytes]) -> dict[bytes, StatusRow]:
        """Several status rows in one ReadRows (an absent row reads as empty, version 0)."""
        if not keys:
            return {}  # a query without keys would read the whole table
        found = self._calls.read_rows(keys, STATUS, _LATEST)
        return {key: _status_row(dict(found.get(key, {}))) for key in keys}

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
        self, key: bytes, expected: Expected, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool:
        """Apply `put`/`delete` and set version `expected.version + 1` iff the row is as
        `expected` (`etl.service.ports.Expected`): one CheckAndMutateRow. True iff applied."""
        mutations: list[Any] = [_delete(STATUS, q.encode()) for q in delete]
        for qualifier, value in {**put, "version": str(expected.version + 1).encode()}.items():
            mutations += [
                _delete(STATUS, qualifier.encode()),
                _set(STATUS, qualifier.encode(), value, SERVER_TIME),
            ]
        if expected.stamp is None and not expected.version:
            # Applied on the false branch: only if the row has no version at all.
            return not self._calls.check_and_mutate(key, _status_column(b"version"), [], mutations)
        column, value = (
            (b"version", str(expected.version).encode())
            if expected.stamp is None
            else (b"stamp", expected.stamp)
        )
        exactly = {"start_value_closed": value, "end_value_closed": value}
        predicate = _chain(_status_column(column), _LATEST, RowFilter(value_range_filter=exactly))
        return self._calls.check_and_mutate(key, predicate, mutations, [])

    def _mutate(self, rows: Mapping[bytes, Sequence[Any]], *, retried: bool) -> None:
        """One row: a unary MutateRow (half the time of a one-row streaming MutateRows);
        several: one MutateRows, every entry's status checked (`BigtableError`)."""
        if len(rows) == 1:
            [(key, mutations)] = rows.items()
            self._calls.mutate_row(key, mutations, retried=retried)
        elif rows:
            self._calls.mutate_rows(rows, retried=retried)


def _millis_micros(t: datetime) -> int:
    """A cell timestamp for `t`: microseconds since the epoch, truncated to the millisecond (the
    table's granularity, as the official client truncates)."""
    micros = (t - EPOCH) // timedelta(microseconds=1)
    return micros - micros % 1000


def _set(family: str, qualifier: bytes, value: bytes, timestamp_micros: int) -> Any:
    return Mutation(
        set_cell={
            "family_name": family,
            "column_qualifier": qualifier,
            "timestamp_micros": timestamp_micros,
            "value": value,
        }
    )


def _delete(family: str, qualifier: bytes) -> Any:
    """Every cell of one column."""
    return Mutation(delete_from_column={"family_name": family, "column_qualifier": qualifier})


def _status_column(qualifier: bytes) -> Any:
    """One `realTimeStatus` column, as a range of one qualifier, not a qualifier regex (see
    `_column`)."""
    return RowFilter(
        column_range_filter={
            "family_name": STATUS,
            "start_qualifier_closed": qualifier,
            "end_qualifier_closed": qualifier,
        }
    )


def _chain(*filters: Any) -> Any:
    return RowFilter(chain={"filters": filters})


def _column(family: str, qualifier: bytes) -> Any:
    """A filter passing one column, as a range of one qualifier. Not a qualifier regex: the
    emulator compiles a filter's regex for every cell it tests, which made half its CPU on
    summary rows of many cells."""
    return row_filters.ColumnRangeFilter(family, qualifier, qualifier)


def _status_row(cells: dict[str, bytes]) -> StatusRow:
    version = int(cells.pop("version", b"0").decode() or 0)
    return StatusRow(version=version, cells=cells)
