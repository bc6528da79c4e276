"""The Bigtable adapter's `read_versions` against the emulator: a summary row's version and
stamp alone, which a writer checks before it trusts the ledger it committed last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl.service import ledger
from etl_core import Event, fold, status_key
from tests.e2e.faults import Rig

BASE = datetime(2026, 11, 20, tzinfo=UTC)


def test_read_versions_gives_each_rows_version_and_stamp_and_zero_for_an_absent_row(
    rig: Rig,
) -> None:
    key, absent = status_key("gate"), status_key("nobody")
    assert rig.table.read_versions([key, absent]) == {key: (0, b""), absent: (0, b"")}
    assert rig.table.commit_status(key, 0, {ledger.STAMP: b"s1", "other": b"x" * 1000}, [])
    assert rig.table.commit_status(key, 1, {ledger.STAMP: b"s2"}, [])
    assert rig.table.read_versions([key, absent]) == {key: (2, b"s2"), absent: (0, b"")}


def test_a_cached_writer_through_the_emulator_keeps_the_occupancy_the_fold(rig: Rig) -> None:
    cache = ledger.LedgerCache()
    events = [
        Event("gate", BASE + timedelta(minutes=37 * i), 1 if i % 3 else -1, f"e{i}")
        for i in range(40)
    ]
    for batch in (events[20:], events[:5], events[5:20]):  # late batches, as delivery goes
        rig.table.write_events(batch)
        committed = ledger.update(rig.table, ledger.OCCUPANCY, batch, BASE, cache=cache)
        assert committed["gate"].rows_read == 0
    assert committed["gate"].cells_read < 100  # the version and stamp, not the ledger's cells
    row = rig.table.read_status(status_key("gate"))
    assert ledger.current_occupancy(row) == fold(events)["gate"]
