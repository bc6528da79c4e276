"""Does the worker's summary cost grow with history? The worker's ledger work, in one process.

    python bench/ledger_history.py [--events 60000] [--batch 500] [--seed 7] [--json]

Simulates `--events` events (3 sites, as `etl simulate`), shuffles them (pstest and production
deliver in no order), and hands them in batches of `--batch` to what the streaming worker does
with a batch after writing its event rows: `ledger.update` of the occupancy and the hourly
summaries, against an in-memory table (`MemoryTable`, the `SummaryStore` port) that counts the
bytes of summary cells each read returns. Reports events per CPU second in each tenth of the run
and the summary bytes read per batch (first and last tenth): a cost that does not grow with
history keeps the last tenth's rate near the first's.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from etl.service import ledger
from etl.service.ports import Expected, StatusRow
from etl_core import Event, event_key, simulate
from etl_core.rowkeys import scan_range

START = datetime(2024, 5, 6, tzinfo=UTC)


class MemoryTable:
    """Summary rows and event rows in dicts; counts the summary bytes every read returns."""

    def __init__(self) -> None:
        self.rows: dict[bytes, dict[str, bytes]] = {}
        self.events: dict[bytes, Event] = {}
        self.bytes_read = 0

    def write_events(self, events: Sequence[Event]) -> None:
        for e in events:
            self.events[event_key(e.service, e.event_time, e.event_id)] = e

    def read_status(self, key: bytes) -> StatusRow:
        cells = dict(self.rows.get(key, {}))
        self.bytes_read += sum(len(q) + len(v) for q, v in cells.items())
        return StatusRow(version=int(cells.pop("version", b"0")), cells=cells)

    def read_statuses(self, keys: Sequence[bytes]) -> dict[bytes, StatusRow]:
        return {key: self.read_status(key) for key in keys}

    def commit_status(
        self, key: bytes, expected: Expected, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool:
        row = self.rows.setdefault(key, {})
        held = (
            int(row.get("version", b"0")) == expected.version
            if expected.stamp is None
            else row.get(ledger.STAMP) == expected.stamp
        )
        if not held:
            return False
        for q in delete:
            row.pop(q, None)
        row.update(put)
        row["version"] = str(expected.version + 1).encode()
        return True

    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        lo, hi = scan_range(service, start, end)
        for key in sorted(k for k in self.events if lo <= k < hi):
            yield self.events[key]


def run(events: int, batch: int, seed: int) -> dict[str, object]:
    stream = list(simulate(seed=seed, start=START, limit=events).events)
    random.Random(seed).shuffle(stream)
    table = MemoryTable()
    cache = ledger.LedgerCache()
    now = stream[-1].event_time
    tenth = max(1, len(stream) // 10)
    rates, bytes_per_batch, reads, spent, done, batches = [], [], [], 0.0, 0, 0
    rows_read = 0
    read_before = 0
    for i in range(0, len(stream), batch):
        chunk = stream[i : i + batch]
        table.write_events(chunk)
        start = time.process_time()
        for summary in (ledger.OCCUPANCY, ledger.HOURLY):
            committed = ledger.update(table, summary, chunk, now, cache=cache)
            rows_read += sum(c.rows_read for c in committed.values())
        spent += time.process_time() - start
        done, batches = done + len(chunk), batches + 1
        if done >= tenth * (len(rates) + 1) or done == len(stream):
            rates.append(round(tenth / spent) if spent else 0)
            bytes_per_batch.append(round((table.bytes_read - read_before) / batches))
            reads.append(rows_read)
            spent, batches, read_before, rows_read = 0.0, 0, table.bytes_read, 0
    return {
        "events": len(stream),
        "batch": batch,
        "events_per_cpu_s_by_tenth": rates,
        "summary_bytes_read_per_batch_by_tenth": bytes_per_batch,
        "event_rows_read_by_tenth": reads,
        "last_over_first": round(rates[-1] / rates[0], 2) if rates[0] else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = run(args.events, args.batch, args.seed)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
