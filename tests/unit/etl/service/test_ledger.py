"""The ledger keeps occupancy exact under redelivery, reordering and concurrent refreshes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from etl.service import ledger
from etl.service.ports import StatusRow
from etl_core import Event, daily_key, daily_peaks, fold, status_key
from etl_core.analytics import hourly_counts
from etl_core.checkpoints import MAX_CHECKPOINTS
from tests.unit.etl.fakes import FakeTable

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
NONCES = (
    itertools.count()
)  # every delivery marks with a nonce of its own, as uuid4 does in production
BASE = datetime(2026, 11, 20, tzinfo=UTC)


@st.composite
def event_lists(draw: st.DrawFn, max_size: int = 40, span_minutes: int = 60 * 12) -> list[Event]:
    n = draw(st.integers(0, max_size))
    services = draw(
        st.lists(st.sampled_from(["gate", "gate-north", "gate#south"]), min_size=n, max_size=n)
    )
    minutes = draw(st.lists(st.integers(0, span_minutes), min_size=n, max_size=n))
    deltas = draw(st.lists(st.sampled_from([1, 1, -1]), min_size=n, max_size=n))
    return [
        Event(service=s, event_time=BASE + timedelta(minutes=m), delta=d, event_id=f"id-{i}")
        for i, (s, m, d) in enumerate(zip(services, minutes, deltas, strict=True))
    ]


class InterleavingTable(FakeTable):
    """Runs queued writers in the middle of a refresh's scan: the race the ledger must survive."""

    def __init__(self) -> None:
        super().__init__()
        self.during_scan: list[tuple[Event, bool]] = []

    def scan_events(
        self, service: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        rows = list(super().scan_events(service, start, end))
        while self.during_scan:
            event, refresh = self.during_scan.pop()
            deliver(self, event, refresh=refresh)
        yield from rows


def deliver(table: FakeTable, event: Event, *, refresh: bool = True) -> None:
    """What a function does with one delivery: write, mark, refresh."""
    table.write_events([event])
    ledger.mark(table, [event], nonce=f"n{next(NONCES)}")
    if refresh:
        ledger.refresh_occupancy(table, event.service, NOW)


@settings(max_examples=200, deadline=None)
@given(events=event_lists(), data=st.data())
def test_any_interleaving_of_deliveries_and_refreshes_converges_to_the_batch_fold(
    events: list[Event], data: st.DataObject
) -> None:
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    arrivals = data.draw(st.permutations(events + redelivered))
    table = InterleavingTable()
    for event in arrivals:
        if data.draw(st.booleans()):
            table.during_scan.append((event, data.draw(st.booleans())))
        else:
            deliver(table, event)
    for event, _ in table.during_scan:
        deliver(table, event)
    expected = fold(events)
    for service in {e.service for e in events}:
        assert ledger.refresh_occupancy(table, service, NOW) == expected[service]


@settings(max_examples=100, deadline=None)
@given(events=event_lists())
def test_every_refresh_after_a_marked_write_leaves_no_pending_marker(events: list[Event]) -> None:
    table = FakeTable()
    for event in events:
        deliver(table, event)
    for service in {e.service for e in events}:
        cells = table.read_status(status_key(service)).cells
        assert not [q for q in cells if q.startswith(ledger.DIRTY)]


def test_a_late_event_hours_behind_refolds_from_an_earlier_checkpoint() -> None:
    table = FakeTable()
    times = [BASE + timedelta(hours=h) for h in range(6)]
    for i, t in enumerate(times):
        deliver(table, Event("gate", t, 1, f"in-{i}"))
    deliver(table, Event("gate", times[5] + timedelta(minutes=1), -1, "out-late-order"))
    late_exit = Event("gate", times[1] + timedelta(minutes=30), -1, "late")
    deliver(table, late_exit)
    status = table.read_status(status_key("gate"))
    assert ledger.current_occupancy(status).value == 4
    assert sum(q.startswith(ledger.CHECKPOINT) for q in status.cells) == 6


def test_exits_at_zero_are_anomalies_and_never_make_occupancy_negative() -> None:
    table = FakeTable()
    deliver(table, Event("gate", BASE, -1, "a"))
    deliver(table, Event("gate", BASE + timedelta(minutes=1), 1, "b"))
    occupancy = ledger.refresh_occupancy(table, "gate", NOW)
    assert (occupancy.value, occupancy.anomalies, occupancy.events) == (1, 1, 2)


def test_checkpoints_are_capped_so_a_status_row_stays_small() -> None:
    table = FakeTable()
    for h in range(MAX_CHECKPOINTS + 10):
        deliver(table, Event("gate", BASE + timedelta(hours=h), 1, f"e{h}"))
    cells = table.read_status(status_key("gate")).cells
    assert sum(q.startswith(ledger.CHECKPOINT) for q in cells) == MAX_CHECKPOINTS
    assert (
        ledger.current_occupancy(table.read_status(status_key("gate"))).value
        == MAX_CHECKPOINTS + 10
    )


@settings(max_examples=100, deadline=None)
@given(events=event_lists(), data=st.data())
def test_hourly_counts_equal_the_core_analytics_whatever_the_arrival_order(
    events: list[Event], data: st.DataObject
) -> None:
    table = FakeTable()
    for event in data.draw(st.permutations(events)):
        table.write_events([event])
        ledger.mark_hours(table, [event], nonce=event.event_id)
        ledger.refresh_hourly(table, event.service)
    expected = hourly_counts(events)
    for service, counts in expected.items():
        stored = ledger.read_hourly(table.read_status(ledger.hourly_key(service)))
        assert list(stored.values()) == counts


def test_pending_updates_count_the_markers_no_refresh_has_folded_yet() -> None:
    table = FakeTable()
    first = Event("gate", BASE, 1, "a")
    table.write_events([first])
    ledger.mark(table, [first], nonce="n1")
    assert ledger.pending_updates(table.read_status(status_key("gate"))) == 1
    ledger.refresh_occupancy(table, "gate", NOW)
    later = Event("gate", BASE + timedelta(minutes=1), 1, "b")
    table.write_events([later])
    ledger.mark(table, [later], nonce="n2")
    ledger.mark(table, [later], nonce="n3")  # a redelivery: one more marker
    assert ledger.pending_updates(table.read_status(status_key("gate"))) == 2


def test_the_checkpoint_window_ends_at_the_hour_of_the_latest_folded_event() -> None:
    table = FakeTable()
    events = [Event("gate", BASE, 1, "a"), Event("gate", BASE + timedelta(hours=30), 1, "b")]
    table.write_events(events)
    ledger.mark(table, events, nonce="n1")
    ledger.refresh_occupancy(table, "gate", NOW)
    status = table.read_status(status_key("gate"))
    latest_hour = BASE + timedelta(hours=30)
    assert ledger.checkpoint_window(status, hours=24) == latest_hour - timedelta(hours=23)
    assert ledger.checkpoint_window(StatusRow(0, {}), hours=24) is None


@settings(max_examples=100, deadline=None)
@given(
    events=event_lists(max_size=30, span_minutes=60 * 24 * 3),
    data=st.data(),
    refresh_every=st.integers(1, 4),
)
def test_daily_peaks_equal_the_core_analytics_whatever_the_arrival_order(
    events: list[Event], data: st.DataObject, refresh_every: int
) -> None:
    table = FakeTable()
    arrivals = data.draw(st.permutations(events))
    for n, event in enumerate(arrivals, start=1):
        table.write_events([event])
        ledger.mark_days(table, [event], nonce=f"n{next(NONCES)}")
        if n % refresh_every == 0:  # markers pile up between refreshes, as under load
            ledger.refresh_daily(table, event.service)
    for service in {e.service for e in events}:
        ledger.refresh_daily(table, service)
    for service, peaks in daily_peaks(events).items():
        stored = ledger.read_daily(table.read_status(daily_key(service)))
        assert list(stored.values()) == peaks
