"""The ports: what the service layer needs from a table and a bus, and the cells it exchanges.

Adapters implement these (etl.adapters), unit tests fake them; the service never imports an
adapter.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from etl_core import Event, PubSubMessage

_INT64 = struct.Struct(">q")


def encode_int(value: int) -> bytes:
    """A counter cell: 8-byte big-endian signed, as Bigtable's increments write them."""
    return _INT64.pack(value)


def decode_int(raw: bytes) -> int:
    value: int = _INT64.unpack(raw)[0]
    return value


@dataclass(frozen=True, slots=True)
class StatusRow:
    """The latest cell of every column of a status row, and its concurrency token."""

    version: int
    cells: Mapping[str, bytes]


@dataclass(frozen=True, slots=True)
class Expected:
    """What a conditional commit requires of a status row: that its `version` is `version` (0: a
    row never committed), or, given `stamp`, that its latest `stamp` cell is exactly `stamp`
    (every commit writes a fresh random stamp with its version, so a stamp names one commit; an
    absent row never matches). Either way the commit sets the version to `version + 1`."""

    version: int
    stamp: bytes | None = None


class SummaryStore(Protocol):
    """What the ledger needs from the table (the Bigtable adapter, or a fake in unit tests)."""

    def read_status(self, key: bytes) -> StatusRow: ...
    def read_statuses(self, keys: Sequence[bytes]) -> dict[bytes, StatusRow]: ...
    def commit_status(
        self, key: bytes, expected: Expected, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool:
        """Apply `put` and `delete` and set `version` to `expected.version + 1`, iff the row is
        as `expected`; True iff applied."""
        ...

    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]: ...


class EventStore(SummaryStore, Protocol):
    """The table port: summaries plus event rows."""

    def write_events(self, events: Sequence[Event]) -> None: ...
    def add_counters(self, counters: Mapping[str, int]) -> None: ...
    def write_snapshots(self, snapshots: Mapping[bytes, int], at: datetime) -> None:
        """Stamp each event row (by key) with the occupancy its commit left, in one write."""
        ...


class Bus(Protocol):
    """The Pub/Sub port."""

    def ensure_topic(self, topic: str) -> str: ...
    def publish_events(self, topic: str, events: Sequence[Event]) -> list[str]: ...
    def dead_letter(self, message: PubSubMessage, reason: str, detail: str, source: str) -> str: ...
