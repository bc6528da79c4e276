"""A cached writer against the emulator: a writer that committed a summary row last builds on the
ledger it cached, reads nothing, and commits only while the row still holds its stamp (the stamp
check itself: tests/e2e/test_bigtable_adapter.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl.service import ledger
from etl_core import Event, fold, status_key
from tests.e2e.faults import Rig

BASE = datetime(2026, 11, 20, tzinfo=UTC)


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
    assert committed["gate"].cells_read == 0  # nothing read: committed on its stamp
    row = rig.table.read_status(status_key("gate"))
    assert ledger.current_occupancy(row) == fold(events)["gate"]
