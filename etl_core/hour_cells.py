"""The cells of an `HourLedger` in a summary row, and the least write that moves a row to a state.

Qualifiers (column family `realTimeStatus`; the row's other cells are left alone):

- `open:<hour>`: the hour's readings, JSON `[[ms into the hour, delta, event id], ...]`, in the
  order they were merged (a batch appends its own to the cell; decoding sorts them);
- `closed:<hour>`: JSON `{"start": [v, a, n], "end": [v, a, n], "in": e, "out": x,
  "peak": [value, ms into the hour or null]}` (`v, a, n`: value, anomalies, events folded);
- `origin`: JSON `[v, a, n, floor]`, the fold state before the first hour kept, and the first
  day kept once older days were dropped (null before that).

Hours are canonical event times (`2026-11-28T08:00:00.000Z`): readable with `cbt read`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from etl_core.analytics import Peak
from etl_core.errors import EtlError
from etl_core.hour_ledger import OPEN_READINGS, ORIGIN_TOUCHED, ClosedHour, HourLedger
from etl_core.hour_summary import HourSummary, Reading
from etl_core.occupancy import Occupancy
from etl_core.timestamps import format_event_time, parse_canonical

OPEN = "open:"
CLOSED = "closed:"
ORIGIN = "origin"
_MS = timedelta(milliseconds=1)


class CorruptLedger(EtlError, ValueError):
    """A ledger cell does not decode; rebuild the service's summaries from its event rows."""


@dataclass(frozen=True, slots=True)
class RowWrite:
    """Cells to set and qualifiers to delete so that a row holds a new ledger state."""

    put: dict[str, bytes]
    delete: list[str]


def is_ledger_cell(qualifier: str) -> bool:
    return qualifier == ORIGIN or qualifier.startswith((OPEN, CLOSED))


def encode(ledger: HourLedger) -> dict[str, bytes]:
    """Every ledger cell of `ledger`."""
    cells = {ORIGIN: _origin_cell(ledger)}
    for hour in ledger.open:
        cells[OPEN + format_event_time(hour)] = _open_cell(ledger, hour)
    for hour, c in ledger.closed.items():
        cells[CLOSED + format_event_time(hour)] = _closed_cell(hour, c)
    return cells


def changed_cells(ledger: HourLedger) -> RowWrite | None:
    """The write that moves a row from the cells `ledger` was read (or last committed) from to
    `ledger`, from the hours it touched alone: O(touched hours), whatever the row holds. None
    when the ledger does not track what it touched (diff `encode` against the row instead)."""
    if ledger.touched is None:
        return None
    put: dict[str, bytes] = {}
    delete: list[str] = []
    for hour in sorted(ledger.touched):
        if hour == ORIGIN_TOUCHED:
            put[ORIGIN] = _origin_cell(ledger)
            continue
        opened, closed = OPEN + format_event_time(hour), CLOSED + format_event_time(hour)
        if hour in ledger.open:
            put[opened] = _open_cell(ledger, hour)
        else:
            delete.append(opened)
        if hour in ledger.closed:
            put[closed] = _closed_cell(hour, ledger.closed[hour])
        else:
            delete.append(closed)
    return RowWrite(put, delete)


def _origin_cell(ledger: HourLedger) -> bytes:
    floor = None if ledger.floor is None else format_event_time(ledger.floor)
    return _dump([*_state(ledger.origin), floor])


def _open_cell(ledger: HourLedger, hour: datetime) -> bytes:
    """The hour's cell: the one it was decoded from or last encoded to, with the readings added
    since appended (the cell keeps its readings in the order they arrived), so a batch encodes
    only its own readings, however many the hour holds."""
    kept, added = ledger.cells.get(hour), ledger.added.pop(hour, None)
    if kept is not None and not added:
        return kept
    if kept is None or kept == b"[]":
        cell = _dump(_entries(hour, ledger.open[hour]))
    else:
        cell = kept[:-1] + b"," + _dump(_entries(hour, added or []))[1:]
    ledger.cells[hour] = cell
    return cell


def _entries(hour: datetime, readings: Iterable[Reading]) -> list[list[object]]:
    return [[(time - hour) // _MS, delta, event_id] for time, event_id, delta in readings]


def _closed_cell(hour: datetime, c: ClosedHour) -> bytes:
    peak_ms = None if c.peak.at is None else (c.peak.at - hour) // _MS
    return _dump(
        {
            "start": _state(c.start),
            "end": _state(c.end),
            "in": c.entries,
            "out": c.exits,
            "peak": [c.peak.value, peak_ms],
        }
    )


def decode(
    cells: Mapping[str, bytes], *, horizon: int, max_closed: int, budget: int = OPEN_READINGS
) -> HourLedger:
    """The ledger held by a row's cells (an empty ledger for a row without any)."""
    ledger = HourLedger(horizon=horizon, max_closed=max_closed, budget=budget, touched=set())
    try:
        for qualifier, raw in cells.items():
            if qualifier == ORIGIN:
                value, anomalies, events, floor = json.loads(raw)
                ledger.origin = Occupancy(value, anomalies, events)
                ledger.floor = None if floor is None else parse_canonical(floor)
            elif qualifier.startswith(OPEN):
                hour, readings, summary = _open_hour(qualifier, bytes(raw))
                ledger.open[hour] = list(readings)
                ledger.sums[hour] = summary
                ledger.cells[hour] = bytes(raw)
            elif qualifier.startswith(CLOSED):
                hour = parse_canonical(qualifier[len(CLOSED) :])
                ledger.closed[hour] = _closed(hour, json.loads(raw))
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptLedger(f"ledger cell does not decode: {exc}") from exc
    if ORIGIN not in cells:  # a row without a ledger yet: its first write holds the origin
        ledger.touched = {ORIGIN_TOUCHED}
    return ledger


@functools.lru_cache(maxsize=8192)
def _open_hour(qualifier: str, raw: bytes) -> tuple[datetime, tuple[Reading, ...], HourSummary]:
    """An open hour's readings and their summary. Memoised: a writer decodes its summary rows
    once per batch, and the hours the batch did not touch come back byte for byte the same
    (Readings and summaries are frozen; `decode` hands out a new list). 8,192 cells: every open
    hour of a process's summary rows (a row keeps at most its readings budget) with room for the
    versions a batch replaces, so a batch never evicts what the next one reads."""
    hour = parse_canonical(qualifier[len(OPEN) :])
    entries = json.loads(raw)
    readings = tuple(sorted((hour + ms * _MS, str(eid), int(delta)) for ms, delta, eid in entries))
    return hour, readings, HourSummary.of(readings)


def canonical(cells: Mapping[str, bytes]) -> dict[str, bytes]:
    """`cells` with each open hour's readings in fold order: two rows hold the same ledger
    exactly when their canonical cells are equal (open cells keep the order readings arrived)."""
    return {
        q: _dump(sorted(json.loads(v), key=_fold_order)) if q.startswith(OPEN) else v
        for q, v in cells.items()
    }


def _fold_order(entry: list[Any]) -> tuple[Any, ...]:
    ms, delta, event_id = entry
    return ms, event_id, delta


def row_write(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> RowWrite:
    """The least write from the ledger cells `before` to `after` (other cells are ignored)."""
    old = {q: v for q, v in before.items() if is_ledger_cell(q)}
    put = {q: v for q, v in after.items() if old.get(q) != v}
    return RowWrite(put, sorted(set(old) - set(after)))


def _closed(hour: datetime, fields: dict[str, Any]) -> ClosedHour:
    value, peak_ms = fields["peak"]
    return ClosedHour(
        start=Occupancy(*fields["start"]),
        end=Occupancy(*fields["end"]),
        entries=int(fields["in"]),
        exits=int(fields["out"]),
        peak=Peak(int(value), None if peak_ms is None else hour + int(peak_ms) * _MS),
    )


def _state(state: Occupancy) -> list[int]:
    return [state.value, state.anomalies, state.events]


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
