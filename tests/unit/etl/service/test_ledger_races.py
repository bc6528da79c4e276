"""The ledger reports how its CheckAndMutates went: each version check lost to another writer is
one lost race, each winning commit is one write; the worker's counters (`lost_races`,
`summary_commits`) add them up, and the contention bench divides one by the other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from etl.service import ledger
from etl.service.handlers import Runtime, update_hourly
from etl.service.ports import Expected
from etl_core import Event
from tests.unit.etl.fakes import FakeTable

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
BASE = datetime(2026, 11, 27, tzinfo=UTC)


class OvertakenTable(FakeTable):
    """Before each of the next `overtakes` commits, another writer commits an event of its own
    to the same summary row first, so that commit loses the version check."""

    def __init__(self, overtakes: int) -> None:
        super().__init__()
        self.overtakes = overtakes
        self._racing = False

    def commit_status(
        self, key: bytes, expected: Expected, put: Mapping[str, bytes], delete: Iterable[str]
    ) -> bool:
        if self.overtakes and not self._racing:
            self.overtakes -= 1
            self._racing = True
            try:
                self._overtake(key)
            finally:
                self._racing = False
        return super().commit_status(key, expected, put, delete)

    def _overtake(self, key: bytes) -> None:
        services = {e.service for e in self.events.values()}
        for summary in (ledger.OCCUPANCY, ledger.HOURLY, ledger.DAILY):
            for service in services:
                if summary.key(service) == key:
                    at = BASE + timedelta(minutes=self.overtakes)
                    other = Event(service, at, 1, f"other-{self.overtakes}")
                    self.write_events([other])
                    ledger.update(self, summary, [other], NOW)
                    return


@given(overtakes=st.integers(0, 10))
def test_every_version_check_lost_to_another_writer_is_one_lost_race_before_one_write(
    overtakes: int,
) -> None:
    table = OvertakenTable(overtakes)
    event = Event("gate", BASE + timedelta(hours=1), 1, "mine")
    table.write_events([event])
    committed = ledger.update(table, ledger.OCCUPANCY, [event], NOW)["gate"]
    assert committed.lost_races == overtakes == table.conflicts
    assert committed.wrote
    assert table.commits == overtakes + 1  # each other writer's, then this one's
    assert ledger.current_occupancy(table.read_status(ledger.OCCUPANCY.key("gate"))).value == (
        overtakes + 1
    )


def test_a_redelivery_writes_nothing_and_loses_no_race() -> None:
    table = FakeTable()
    event = Event("gate", BASE, 1, "a")
    table.write_events([event])
    first = ledger.update(table, ledger.OCCUPANCY, [event], NOW)["gate"]
    again = ledger.update(table, ledger.OCCUPANCY, [event], NOW)["gate"]
    assert (first.wrote, first.lost_races) == (True, 0)
    assert (again.wrote, again.lost_races) == (False, 0)


def test_the_worker_counts_its_commits_and_lost_races_per_summary_row() -> None:
    table = OvertakenTable(overtakes=2)
    rt = Runtime(table=table, bus=None, written_topic="written", clock=lambda: NOW)  # type: ignore[arg-type]
    events = [Event("gate", BASE + timedelta(hours=2), 1, "a"), Event("door", BASE, 1, "b")]
    table.write_events(events)
    update_hourly(rt, events)
    assert rt.counters.get("summary_commits") == 2  # one per service of the batch
    assert rt.counters.get("lost_races") == 2
