"""The original design's per-event processing as it stood, for the baseline: no batching,
read-then-write count.

Per event: one single-row write of the event cells, then read the service's count and write it back
plus the delta. It races under concurrency (two readers, one lost update); run serially here it is
merely slow, which is what the baseline measures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from etl.adapters.bigtable import EVENT, STATUS, EventTable
from etl.service.ports import decode_int, encode_int
from etl_core import Event, event_key, status_key
from etl_core.timestamps import format_event_time


def write_one(table: EventTable, event: Event) -> None:
    raw = table._table  # the original design talked to the client directly; so does its baseline
    row = raw.direct_row(event_key(event.service, event.event_time, event.event_id))
    row.set_cell(EVENT, b"service", event.service.encode())
    row.set_cell(EVENT, b"eventTime", format_event_time(event.event_time).encode())
    row.set_cell(EVENT, b"event", str(event.delta).encode())
    row.commit()
    current = raw.read_row(status_key(event.service))
    count = 0
    if current is not None and b"currentOccupancy" in current.cells.get(STATUS, {}):
        count = decode_int(current.cells[STATUS][b"currentOccupancy"][0].value)
    status = raw.direct_row(status_key(event.service))
    status.set_cell(STATUS, b"currentOccupancy", encode_int(count + event.delta))
    status.commit()


def rate(table: EventTable, events: Sequence[Event]) -> float:
    begin = time.perf_counter()
    for event in events:
        write_one(table, event)
    return len(events) / (time.perf_counter() - begin)
