"""An in-memory table that implements the ledger's port, for unit tests of the ledger's callers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from etl.service.ports import Expected, StatusRow
from etl_core import Event, event_key
from etl_core.rowkeys import scan_range


class FakeTable:
    """Rows as dicts; `commit_status` is a compare-and-set on `version` (or `stamp`), like
    CheckAndMutateRow."""

    def __init__(self) -> None:
        self.events: dict[bytes, Event] = {}
        self.status: dict[bytes, dict[str, bytes]] = {}
        self.snapshots: dict[bytes, int] = {}
        self.counters: dict[str, int] = {}
        self.commits = 0
        self.conflicts = 0

    def write_events(self, events: Sequence[Event]) -> None:
        for e in events:
            self.events[event_key(e.service, e.event_time, e.event_id)] = e

    def add_counters(self, counters: Mapping[str, int]) -> None:
        for name, delta in counters.items():
            self.counters[name] = self.counters.get(name, 0) + delta

    def write_snapshots(self, snapshots: Mapping[bytes, int], at: datetime) -> None:
        del at
        self.snapshots.update(snapshots)

    def read_status(self, key: bytes) -> StatusRow:
        cells = dict(self.status.get(key, {}))
        version = int(cells.pop("version", b"0"))
        return StatusRow(version=version, cells=cells)

    def read_statuses(self, keys: Sequence[bytes]) -> dict[bytes, StatusRow]:
        return {key: self.read_status(key) for key in keys}

    def commit_status(
        self, key: bytes, expected: Expected, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool:
        row = self.status.setdefault(key, {})
        held = (
            int(row.get("version", b"0")) == expected.version
            if expected.stamp is None
            else "stamp" in row and row["stamp"] == expected.stamp
        )
        if not held:
            self.conflicts += 1
            return False
        for q in delete:
            row.pop(q, None)
        row.update(put)
        row["version"] = str(expected.version + 1).encode()
        self.commits += 1
        return True

    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        lo, hi = scan_range(service, start, end)
        for key in sorted(self.events):
            if lo <= key < hi:
                yield self.events[key]
