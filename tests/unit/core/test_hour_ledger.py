"""The per-hour ledger: whatever the batches, their order, duplicates and lateness, its summaries
equal the batch fold of the unique events, and it stays within its size bound."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_core import Event, Occupancy, daily_peaks, fold, hourly_counts
from etl_core.analytics import DailyPeak, Peak, hour_of
from etl_core.hour_cells import (
    OPEN,
    CorruptLedger,
    canonical,
    changed_cells,
    decode,
    encode,
    row_write,
)
from etl_core.hour_ledger import Change, HourLedger
from etl_core.hour_summary import HourSummary, Reading
from tests.unit.core.core_strategies import NOW, event_sets

SERVICE = "gate"


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """One service's events over ~3 days, some sharing a millisecond, with exact duplicates."""
    n = draw(st.integers(0, 60))
    minutes = draw(st.lists(st.integers(0, 60 * 72), min_size=n, max_size=n))
    deltas = draw(st.lists(st.sampled_from([1, 1, -1]), min_size=n, max_size=n))
    unique = [
        Event(SERVICE, NOW + timedelta(minutes=m), d, f"e{i}")
        for i, (m, d) in enumerate(zip(minutes, deltas, strict=True))
    ]
    copies = draw(st.lists(st.sampled_from(unique), max_size=10)) if unique else []
    return unique + copies


class Row:
    """A summary row as the service keeps it: the ledger's cells plus the projections it writes."""

    def __init__(self, horizon: int, max_closed: int, budget: int = 0) -> None:
        self.cells: dict[str, bytes] = {}
        self.horizon, self.max_closed, self.budget = horizon, max_closed, budget
        self.hourly: dict[datetime, tuple[int, int]] = {}
        self.peaks: dict[datetime, DailyPeak] = {}
        self.rows: list[Event] = []  # the event rows, written before the ledger is updated

    def apply(self, batch: list[Event]) -> None:
        self.rows.extend(batch)
        ledger = self.ledger()
        late = ledger.late(batch)
        if late is None:
            change = ledger.merge(batch)
        else:
            since = late.since
            change = ledger.rebuild(
                since, [e for e in self.rows if since is None or hour_of(e.event_time) >= since]
            )
        self.project(change)
        write = changed_cells(ledger) or row_write(self.cells, encode(ledger))
        for q, cell in write.put.items():  # a merge grows an open hour's cell by its readings
            old = self.cells.get(q)
            if late is None and q.startswith(OPEN) and old is not None:
                assert cell.startswith(old[:-1]), (old, cell)
        for q in write.delete:
            self.cells.pop(q, None)
        self.cells.update(write.put)
        assert self.cells == encode(ledger)  # the touched hours' write moved the row whole

    def ledger(self) -> HourLedger:
        return decode(
            self.cells, horizon=self.horizon, max_closed=self.max_closed, budget=self.budget
        )

    def project(self, change: Change) -> None:
        for hour, c in change.hourly.items():
            self.hourly[hour] = (c.entries, c.exits)
        self.peaks.update(change.peaks)


def batches(draw: st.DrawFn, events: list[Event]) -> list[list[Event]]:
    order = draw(st.permutations(events))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=6)))
    bounds = [0, *cuts, len(order)]
    return [list(order[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


BUDGETS = st.sampled_from([0, 3, 10, 20_000])
"""Readings the open hours may hold: 0 closes every hour past the horizon at once."""


@settings(deadline=None)  # a few thousand ledger operations per example
@given(st.data(), streams(), st.integers(0, 3), st.sampled_from([1, 2, 30, 24 * 7]), BUDGETS)
def test_any_batching_order_and_lateness_gives_the_fold_hourly_counts_and_daily_peaks(
    data: st.DataObject, events: list[Event], horizon: int, max_closed: int, budget: int
) -> None:
    row = Row(horizon, max_closed, budget)
    for batch in batches(data.draw, events):
        row.apply(batch)
    ledger = row.ledger()
    assert ledger.occupancy() == fold(events).get(SERVICE, ledger.occupancy().__class__())
    expected = {c.hour: (c.entries, c.exits) for c in hourly_counts(events).get(SERVICE, [])}
    assert row.hourly == expected
    assert row.peaks == {p.day: p for p in daily_peaks(events).get(SERVICE, [])}


@settings(deadline=None)  # a few thousand ledger operations per example
@given(st.data(), streams(), st.integers(0, 3), BUDGETS)
def test_a_rebuild_from_the_event_rows_equals_the_incremental_ledger(
    data: st.DataObject, events: list[Event], horizon: int, budget: int
) -> None:
    incremental = Row(horizon, 24 * 7, budget)
    for batch in batches(data.draw, events):
        incremental.apply(batch)
    rebuilt = HourLedger(horizon=horizon, budget=budget)
    rebuilt.rebuild(None, events)
    assert decode(encode(rebuilt), horizon=horizon, max_closed=24 * 7, budget=budget) == (
        incremental.ledger()
    )
    # closed hours and the origin encode canonically; an open hour's cell holds the same
    # readings, in the order they arrived
    assert canonical(encode(incremental.ledger())) == canonical(encode(rebuilt))
    assert canonical(encode(rebuilt)) == encode(rebuilt)  # a rebuild writes readings in order


@settings(deadline=None)  # a few thousand ledger operations per example
@given(st.data(), streams(), st.integers(0, 3), st.integers(1, 30), BUDGETS)
def test_the_ledger_keeps_its_budget_or_horizon_plus_one_hours_of_readings_and_its_closed_limit(
    data: st.DataObject, events: list[Event], horizon: int, max_closed: int, budget: int
) -> None:
    per_hour = Counter(
        hour_of(e.event_time) for e in {(e.event_time, e.event_id): e for e in events}.values()
    )
    row = Row(horizon, max_closed, budget)
    for batch in batches(data.draw, events):
        row.apply(batch)
        ledger = row.ledger()
        busiest = max(per_hour.values(), default=0)
        assert ledger.readings() <= max(budget, (horizon + 1) * busiest)
        assert budget or len(ledger.open) <= horizon + 1
        assert len(ledger.closed) <= max(max_closed, 23)


def test_a_redelivered_batch_changes_nothing() -> None:
    ledger = HourLedger()
    events = [Event(SERVICE, NOW + timedelta(minutes=m), 1, f"e{m}") for m in range(5)]
    ledger.merge(events)
    assert ledger.merge(events) == Change()


def test_a_late_event_within_the_horizon_is_folded_in_its_place() -> None:
    ledger = HourLedger()
    ledger.merge([Event(SERVICE, NOW + timedelta(seconds=s), -1, f"e{s}") for s in (2, 3)])
    assert ledger.occupancy() == Occupancy(0, 2, 2)
    ledger.merge([Event(SERVICE, NOW + timedelta(seconds=1), 1, "e1")])
    assert ledger.occupancy() == Occupancy(0, 1, 3)


@given(event_sets(), st.randoms(use_true_random=False))
def test_merging_events_one_at_a_time_in_any_order_equals_the_fold_after_every_event(
    events: list[Event], rng: random.Random
) -> None:
    arrival = list(events)
    rng.shuffle(arrival)
    ledgers: dict[str, HourLedger] = {}
    for n, event in enumerate(arrival, start=1):
        ledgers.setdefault(event.service, HourLedger()).merge([event])
        assert {s: ledger.occupancy() for s, ledger in ledgers.items()} == fold(arrival[:n])


@given(streams(), st.lists(st.integers(1, 20), min_size=1), st.booleans())
def test_each_open_hours_summary_is_the_summary_of_its_readings_after_any_batches(
    events: list[Event], sizes: list[int], in_time_order: bool
) -> None:
    """Summaries extended by appended readings (in time order) or made again (otherwise)."""
    arrival = sorted(events, key=lambda e: e.event_time) if in_time_order else events
    ledger = HourLedger(horizon=3 * 24, budget=10_000)
    batches = itertools.cycle(sizes)
    while arrival:
        size = next(batches)
        batch, arrival = arrival[:size], arrival[size:]
        ledger.merge(batch)
        for hour, readings in ledger.open.items():
            assert ledger.summary(hour) == HourSummary.of(readings)


def test_an_event_older_than_the_horizon_asks_for_the_rows_from_its_closed_hour() -> None:
    ledger = HourLedger(horizon=1, budget=0)
    ledger.merge([Event(SERVICE, NOW + timedelta(hours=h), 1, f"e{h}") for h in range(5)])
    late = ledger.late([Event(SERVICE, NOW + timedelta(hours=1, minutes=5), -1, "late")])
    assert late is not None
    assert late.since == hour_of(NOW + timedelta(hours=1))
    with pytest.raises(ValueError, match="closed history"):
        ledger.merge([Event(SERVICE, NOW + timedelta(hours=1, minutes=5), -1, "late")])


def test_an_undecodable_ledger_cell_is_a_corrupt_ledger() -> None:
    with pytest.raises(CorruptLedger):
        decode({"open:2026-01-01T00:00:00.000Z": b"[[1,"}, horizon=2, max_closed=10)
    with pytest.raises(CorruptLedger):
        decode({"closed:not-an-hour": b"{}"}, horizon=2, max_closed=10)


@given(
    st.lists(st.tuples(st.integers(0, 3599), st.sampled_from([1, -1])), max_size=60),
    st.integers(0, 5),
    st.integers(0, 3),
)
def test_an_hours_summary_folds_any_state_as_its_readings_do(
    moments: list[tuple[int, int]], value: int, anomalies: int
) -> None:
    hour = datetime(2026, 12, 7, 8, tzinfo=UTC)
    readings = sorted((hour + timedelta(seconds=s), f"e{i}", d) for i, (s, d) in enumerate(moments))
    state = Occupancy(value, anomalies, 7)
    assert HourSummary.of(readings).apply(state) == fold_hour(state, readings)


def fold_hour(state: Occupancy, readings: list[Reading]) -> tuple[Occupancy, Peak]:
    """The fold, reading by reading: the state after one hour's readings from `state`, and the
    first time the hour reached its highest value (what `HourSummary.apply` must equal)."""
    value, anomalies, events = state.value, state.anomalies, state.events
    best = Peak(0, None)
    for time, _, delta in readings:
        events += 1
        if delta > 0:
            value += 1
        elif value:
            value -= 1
        else:
            anomalies += 1
        if value > best.value:
            best = Peak(value, time)
    return Occupancy(value, anomalies, events), best
