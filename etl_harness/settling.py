"""Has the pipeline settled? The final check of the reliability tests and the benchmarks: the
table holds exactly the unique events' rows, and each summary the pipeline shape keeps equals the
core's fold of them (`etl_core.fold`, `etl_core.hourly_counts`).

Tooling and tests both import it from here (the benchmarks must not depend on the tests).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from etl.adapters.bigtable import EventTable
from etl.service import ledger
from etl_core import Event, event_key, fold, hourly_counts, hourly_key, is_event_key, status_key


def unique(events: Iterable[Event]) -> list[Event]:
    return list({(e.service, e.event_id): e for e in reversed(list(events))}.values())


def unsettled(table: EventTable, events: Sequence[Event], *, hourly: bool) -> str:
    """What the table still lacks of the shape's final state ("" once settled).

    Settled is the complete condition every final assertion needs, not a proxy for it: every
    event row stored and each summary the shape keeps (occupancy, and hourly counts when
    `hourly`) equal to the fold of the unique events. Rows alone are not enough: in `fanout` an
    event reaches the calculations through the republished message, which may still be in
    flight (push backoff, a slow network) after every row is stored.
    """
    want = {event_key(e.service, e.event_time, e.event_id) for e in events}
    keys = {k for k, _ in table.all_rows() if is_event_key(k)}
    if not keys >= want:
        example = sorted(want - keys)[:1]
        return f"{len(want - keys)} of {len(want)} event rows missing, e.g. {example}"
    return mismatch(table, events, hourly=hourly)


def wait_settled(
    table: EventTable, events: Sequence[Event], *, hourly: bool, timeout: float
) -> None:
    """Poll (up to `timeout` seconds) until `unsettled` is empty.

    Redeliveries and in-flight messages come when they come; a lost or double-counted event never
    converges and fails here with what differs.
    """
    deadline = time.monotonic() + timeout
    while missing := unsettled(table, events, hourly=hourly):
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled after {timeout}s: {missing}")
        time.sleep(0.2)


def mismatch(table: EventTable, events: Sequence[Event], *, hourly: bool) -> str:
    """How the table differs from the core's fold of the unique events ("" when it does not).

    - the event rows are exactly the unique events' keys, each with its delta;
    - each service's stored occupancy (value, anomalies, events folded) equals `etl_core.fold`;
    - `hourly`: each service's stored hourly counts equal `etl_core.hourly_counts`.
    """
    want = unique(events)
    rows = {k: cells for k, cells in table.all_rows() if is_event_key(k)}
    expected = {event_key(e.service, e.event_time, e.event_id): e for e in want}
    if set(rows) != set(expected):
        return (
            f"{len(set(rows) - set(expected))} unexpected event rows, "
            f"{len(set(expected) - set(rows))} missing"
        )
    wrong = [k for k, e in expected.items() if rows[k]["event"]["event"] != str(e.delta).encode()]
    if wrong:
        return f"{len(wrong)} rows with the wrong delta, e.g. {wrong[0]!r}"
    truth = fold(want)
    stored = {svc: ledger.current_occupancy(table.read_status(status_key(svc))) for svc in truth}
    if stored != truth:
        return f"occupancy {stored} != fold {truth}"
    if hourly:
        for svc, counts in hourly_counts(want).items():
            got = list(ledger.read_hourly(table.read_status(hourly_key(svc))).values())
            if got != counts:
                diff = (
                    [c for c in counts if c not in got][:2],
                    [c for c in got if c not in counts][:2],
                )
                return f"hourly counts of {svc!r}: expected/stored differ in {diff}"
    return ""
