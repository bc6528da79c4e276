"""The ledger keeps every summary exact under redelivery, reordering, lateness, crashes and
concurrent writers, and reads event rows back only for events later than its horizon."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from etl.service import ledger
from etl.service.ports import Expected, StatusRow
from etl_core import Event, Occupancy, daily_peaks, fold, status_key
from etl_core.analytics import hourly_counts
from etl_core.hour_cells import canonical, encode, is_ledger_cell
from etl_core.timestamps import format_event_time
from tests.unit.etl.fakes import FakeTable

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
BASE = datetime(2026, 11, 20, tzinfo=UTC)
SUMMARIES = (ledger.OCCUPANCY, ledger.HOURLY, ledger.DAILY)


@st.composite
def event_lists(draw: st.DrawFn, max_size: int = 40, span_minutes: int = 60 * 30) -> list[Event]:
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


class RacingTable(FakeTable):
    """Runs queued writers just before a commit lands, so that commit loses the version check:
    concurrent writers of other processes, as the CheckAndMutate on `version` sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.racers: list[Callable[[], None]] = []

    def commit_status(
        self, key: bytes, expected: Expected, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool:
        while self.racers:
            self.racers.pop()()
        return super().commit_status(key, expected, put, delete)


def limits(horizon: int) -> ledger.Limits:
    """Small ledgers, so that hours close and late events take the slow path in these tests."""
    return ledger.Limits(horizon=horizon, budget=horizon * 3)


def deliver(table: FakeTable, events: list[Event], horizon: int, *, crash: bool = False) -> None:
    """What a handler does with a delivery: the event rows, then every summary. `crash`: killed
    after the rows were written (the message is redelivered later)."""
    table.write_events(events)
    if crash:
        return
    for summary in SUMMARIES:
        ledger.update(table, summary, events, NOW, limits(horizon))


def assert_summaries_equal_the_fold(table: FakeTable, events: list[Event]) -> None:
    for service, expected in fold(events).items():
        assert ledger.current_occupancy(table.read_status(status_key(service))) == expected
    for service, counts in hourly_counts(events).items():
        stored = ledger.read_hourly(table.read_status(ledger.HOURLY.key(service)))
        assert list(stored.values()) == counts
    for service, peaks in daily_peaks(events).items():
        stored = ledger.read_daily(table.read_status(ledger.DAILY.key(service)))
        assert list(stored.values()) == peaks


@settings(deadline=None)
@given(events=event_lists(), data=st.data(), horizon=st.integers(0, 3))
def test_any_arrival_order_redelivery_crash_and_concurrent_commit_converges_to_the_fold(
    events: list[Event], data: st.DataObject, horizon: int
) -> None:
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    arrivals = data.draw(st.permutations(events + redelivered))
    table = RacingTable()
    crashed: list[Event] = []
    for event in arrivals:
        how = data.draw(st.sampled_from(["now", "racing", "crash"]))
        if how == "crash":
            deliver(table, [event], horizon, crash=True)
            crashed.append(event)
        elif how == "racing":  # lands in the middle of the next writer's commit
            table.racers.append(lambda e=event: deliver(table, [e], horizon))
        else:
            deliver(table, [event], horizon)
    for racer in table.racers:
        racer()
    for event in crashed:  # Pub/Sub redelivers what was never acknowledged
        deliver(table, [event], horizon)
    assert_summaries_equal_the_fold(table, events)


@settings(deadline=None)
@given(events=event_lists(), data=st.data(), horizon=st.integers(0, 3))
def test_batches_of_many_services_give_the_same_summaries_as_single_deliveries(
    events: list[Event], data: st.DataObject, horizon: int
) -> None:
    table = FakeTable()
    order = data.draw(st.permutations(events))
    size = data.draw(st.integers(1, 12))
    for i in range(0, len(order), size):
        deliver(table, list(order[i : i + size]), horizon)
    assert_summaries_equal_the_fold(table, events)


@settings(deadline=None)
@given(events=event_lists(), horizon=st.integers(0, 3))
def test_events_within_the_horizon_never_read_an_event_row_back(
    events: list[Event], horizon: int
) -> None:
    table = FakeTable()
    reads = 0
    for event in sorted(events, key=lambda e: e.event_time):  # late by at most the horizon
        table.write_events([event])
        for summary in SUMMARIES:
            committed = ledger.update(table, summary, [event], NOW, limits(horizon))
            reads += sum(c.rows_read for c in committed.values())
    assert reads == 0
    assert_summaries_equal_the_fold(table, events)


@settings(deadline=None)
@given(events=event_lists(), data=st.data())
def test_a_rebuild_from_the_event_rows_equals_the_incremental_summaries(
    events: list[Event], data: st.DataObject
) -> None:
    incremental = FakeTable()
    for event in data.draw(st.permutations(events)):
        deliver(incremental, [event], horizon=1)
    rebuilt = FakeTable()
    rebuilt.write_events(events)
    for service in {e.service for e in events}:
        for summary in SUMMARIES:
            ledger.rebuild(rebuilt, summary, service, NOW, limits(1))
            mine, theirs = (t.read_status(summary.key(service)) for t in (rebuilt, incremental))
            assert _shown(mine) == _shown(theirs)


def _shown(row: StatusRow) -> dict[str, bytes]:
    """The row's cells but its write time and stamp, open hours' readings in fold order."""
    return canonical({q: v for q, v in row.cells.items() if q not in ("writeTime", ledger.STAMP)})


def test_an_event_hours_later_than_the_horizon_reads_back_only_the_rows_from_its_hour() -> None:
    table, strict = FakeTable(), ledger.Limits(horizon=1, budget=0)
    hours = [Event("gate", BASE + timedelta(hours=h), 1, f"in-{h}") for h in range(8)]
    table.write_events(hours)
    ledger.update(table, ledger.OCCUPANCY, hours, NOW, strict)
    late = Event("gate", BASE + timedelta(hours=5, minutes=30), -1, "late-exit")
    table.write_events([late])
    committed = ledger.update(table, ledger.OCCUPANCY, [late], NOW, strict)
    assert committed["gate"].rows_read == 4  # hours 5, 6 and 7, and the late exit itself
    assert ledger.current_occupancy(table.read_status(status_key("gate"))).value == 7


def test_a_sparse_site_keeps_days_open_so_a_shuffled_stream_reads_nothing_back() -> None:
    table = FakeTable()
    days = [Event("gate", BASE + timedelta(hours=h), 1, f"in-{h}") for h in range(0, 24 * 5, 3)]
    table.write_events(days)
    reads = 0
    for event in reversed(days):  # every event later than the one before it: days late
        committed = ledger.update(table, ledger.OCCUPANCY, [event], NOW, ledger.Limits(horizon=2))
        reads += committed["gate"].rows_read
    assert reads == 0
    assert ledger.current_occupancy(table.read_status(status_key("gate"))).value == len(days)


def test_a_redelivery_commits_nothing() -> None:
    table = FakeTable()
    event = Event("gate", BASE, 1, "a")
    deliver(table, [event], horizon=2)
    commits = table.commits
    deliver(table, [event], horizon=2)
    assert table.commits == commits


def test_exits_at_zero_are_anomalies_and_never_make_occupancy_negative() -> None:
    table = FakeTable()
    deliver(table, [Event("gate", BASE, -1, "a")], horizon=2)
    deliver(table, [Event("gate", BASE + timedelta(minutes=1), 1, "b")], horizon=2)
    occupancy = ledger.current_occupancy(table.read_status(status_key("gate")))
    assert (occupancy.value, occupancy.anomalies, occupancy.events) == (1, 1, 2)


def test_a_corrupt_ledger_cell_is_rebuilt_from_the_event_rows() -> None:
    table = FakeTable()
    events = [Event("gate", BASE + timedelta(minutes=m), 1, f"e{m}") for m in range(3)]
    deliver(table, events, horizon=2)
    table.status[status_key("gate")]["open:2026-11-20T00:00:00.000Z"] = b"not json"
    more = Event("gate", BASE + timedelta(minutes=9), 1, "e9")
    deliver(table, [more], horizon=2)
    assert ledger.current_occupancy(table.read_status(status_key("gate"))).value == 4


def test_the_hours_kept_are_the_hours_with_events_up_to_the_newest() -> None:
    table = FakeTable()
    events = [Event("gate", BASE, 1, "a"), Event("gate", BASE + timedelta(hours=30), 1, "b")]
    deliver(table, events, horizon=2)
    ends = ledger.read_hour_ends(table.read_status(status_key("gate")))
    assert list(ends) == [BASE, BASE + timedelta(hours=30)]
    assert [o.value for o in ends.values()] == [1, 2]


@settings(deadline=None)  # a few hundred ledger operations per example
@given(events=event_lists(), data=st.data(), horizon=st.integers(0, 3))
def test_each_kept_hour_ends_at_the_fold_of_every_event_up_to_its_end(
    events: list[Event], data: st.DataObject, horizon: int
) -> None:
    table = FakeTable()
    for event in data.draw(st.permutations(events)):
        deliver(table, [event], horizon)
    for service in {e.service for e in events}:
        ends = ledger.read_hour_ends(table.read_status(status_key(service)))
        mine = [e for e in events if e.service == service]
        assert list(ends) == sorted({e.event_time.replace(minute=0) for e in mine})
        for hour, end in ends.items():
            before_end = [e for e in mine if e.event_time < hour + timedelta(hours=1)]
            assert end == fold(before_end)[service]
        assert list(ends.values())[-1] == ledger.current_occupancy(
            table.read_status(status_key(service))
        )
    assert ledger.read_hour_ends(StatusRow(0, {})) == {}


def test_the_commit_time_is_read_back_as_written_and_absent_before_any_commit() -> None:
    table = FakeTable()
    assert ledger.written_at(table.read_status(status_key("gate"))) is None
    deliver(table, [Event("gate", BASE, 1, "a")], horizon=2)
    assert ledger.written_at(table.read_status(status_key("gate"))) == format_event_time(NOW)


class CountingTable(RacingTable):
    """Counts the summary rows read whole and the bytes of ledger cells they return."""

    def __init__(self) -> None:
        super().__init__()
        self.whole_reads = 0

    def read_status(self, key: bytes) -> StatusRow:
        self.whole_reads += 1
        return super().read_status(key)


@settings(deadline=None)  # a few hundred ledger operations per example
@given(
    events=event_lists(),
    data=st.data(),
    horizon=st.integers(0, 3),
    writers=st.integers(1, 3),
)
def test_processes_with_cached_ledgers_in_any_interleaving_keep_every_summary_the_fold(
    events: list[Event], data: st.DataObject, horizon: int, writers: int
) -> None:
    table = RacingTable()
    caches = [ledger.LedgerCache() for _ in range(writers)]
    order = data.draw(st.permutations(events + events[: len(events) // 3]))  # with redeliveries
    for event in order:
        cache = caches[data.draw(st.integers(0, writers - 1))]
        if data.draw(st.booleans()):  # another process commits first: this one loses the race
            other = caches[data.draw(st.integers(0, writers - 1))]
            table.racers.append(lambda e=event, c=other: _update_all(table, [e], horizon, c))
        table.write_events([event])
        _update_all(table, [event], horizon, cache)
    assert_summaries_equal_the_fold(table, events)
    for service in {e.service for e in events}:
        for summary in SUMMARIES:
            row = table.read_status(summary.key(service))
            decoded = limits(horizon).read(row.cells)
            assert {q: v for q, v in row.cells.items() if is_ledger_cell(q)} == encode(decoded)


def _update_all(
    table: FakeTable, events: list[Event], horizon: int, cache: ledger.LedgerCache
) -> None:
    for summary in SUMMARIES:
        ledger.update(table, summary, events, NOW, limits(horizon), cache)


def test_a_writer_that_committed_last_reads_nothing_of_its_rows() -> None:
    table, cache = CountingTable(), ledger.LedgerCache()
    first = [Event("gate", BASE + timedelta(hours=h), 1, f"in-{h}") for h in range(48)]
    table.write_events(first)
    ledger.update(table, ledger.OCCUPANCY, first, NOW, ledger.Limits(), cache)
    reads = table.whole_reads
    later = Event("gate", BASE + timedelta(hours=3, minutes=5), -1, "out")
    table.write_events([later])
    committed = ledger.update(table, ledger.OCCUPANCY, [later], NOW, ledger.Limits(), cache)
    assert table.whole_reads == reads
    assert (committed["gate"].cells_read, committed["gate"].lost_races) == (0, 0)
    assert (
        ledger.current_occupancy(table.read_status(status_key("gate")))
        == fold([*first, later])["gate"]
    )


def test_a_cached_ledger_another_writer_overtook_loses_its_stamp_check_once() -> None:
    table, mine, theirs = CountingTable(), ledger.LedgerCache(), ledger.LedgerCache()
    events = [Event("gate", BASE + timedelta(minutes=m), 1, f"e{m}") for m in range(3)]
    table.write_events(events)
    ledger.update(table, ledger.OCCUPANCY, events[:1], NOW, cache=mine)
    ledger.update(table, ledger.OCCUPANCY, events[1:2], NOW, cache=theirs)
    reads = table.whole_reads
    committed = ledger.update(table, ledger.OCCUPANCY, events[2:], NOW, cache=mine)["gate"]
    assert (committed.lost_races, committed.wrote, table.whole_reads) == (1, True, reads + 1)
    assert ledger.current_occupancy(table.read_status(status_key("gate"))) == fold(events)["gate"]


def test_a_row_made_again_at_the_same_version_is_read_whole_not_taken_from_the_cache() -> None:
    table, cache = CountingTable(), ledger.LedgerCache()
    ledger.update(table, ledger.OCCUPANCY, [Event("gate", BASE, 1, "a")], NOW, cache=cache)
    del table.status[status_key("gate")]  # e.g. `etl reset`, then another writer's first commit
    ledger.update(table, ledger.OCCUPANCY, [Event("gate", BASE, -1, "b")], NOW)
    reads = table.whole_reads
    ledger.update(table, ledger.OCCUPANCY, [Event("gate", BASE, 1, "c")], NOW, cache=cache)
    assert table.whole_reads == reads + 1
    stored = ledger.current_occupancy(table.read_status(status_key("gate")))
    assert stored == Occupancy(value=1, anomalies=1, events=2)
