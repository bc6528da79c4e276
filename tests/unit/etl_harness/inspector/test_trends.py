"""What the inspector shows over time: occupancy by hour from the data, backlogs and rates from
its samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl.service import ledger
from etl_core import Event, status_key
from etl_harness.inspector import trends
from etl_harness.inspector.history import Sample
from tests.unit.etl.fakes import FakeTable

T0 = datetime(2026, 11, 28, 8, tzinfo=UTC)


def hour(h: int) -> datetime:
    return T0 + timedelta(hours=h)


def test_occupancy_history_carries_each_hour_on_until_the_next_with_events() -> None:
    ends = {"gate": {hour(0): 2, hour(3): 0}, "door": {hour(2): 1}}
    history = trends.occupancy_history(ends)
    assert history["gate"] == [(hour(0), 2), (hour(1), 2), (hour(2), 2), (hour(3), 0)]
    assert history["door"] == [(hour(2), 1), (hour(3), 1)]  # starts at its first hour
    assert trends.occupancy_history({}) == {}
    assert trends.occupancy_history({"gate": {}}) == {}


def test_occupancy_history_is_the_last_hours_to_the_newest_with_the_level_carried_in() -> None:
    ends = {"gate": {hour(0): 4, hour(30): 5}}
    history = trends.occupancy_history(ends, hours=3)
    assert history == {"gate": [(hour(28), 4), (hour(29), 4), (hour(30), 5)]}


def test_occupancy_history_follows_the_stored_summary() -> None:
    events = [Event("gate", T0 + timedelta(minutes=m), d, f"e{m}") for m, d in [(5, 1), (70, 1)]]
    table = FakeTable()
    table.write_events(events)
    ledger.update(table, ledger.OCCUPANCY, events, T0)
    ends = ledger.read_hour_ends(table.read_status(status_key("gate")))
    history = trends.occupancy_history({"gate": {h: o.value for h, o in ends.items()}})
    assert history == {"gate": [(hour(0), 1), (hour(1), 2)]}
    assert trends.occupancy_history_json(history)["gate"][1] == {
        "hour": "2026-11-28T09:00:00.000Z",
        "occupancy": 2,
    }


def test_activity_shows_the_latest_backlog_and_rates_of_the_window() -> None:
    samples = [
        Sample(0, 9, 0),  # older than the window
        Sample(100, 0, 10),
        Sample(101, 3, 16),  # 6 published, backlog +3: 3 left
        Sample(103, 1, 16),  # none published, backlog -2: 2 left in 2 s
    ]
    (row,) = trends.activity_view({"worker-test": samples}, now=103, window=10)
    assert row["name"] == "worker-test"
    assert row["backlog"] == 1
    assert (row["in_rate"], row["out_rate"]) == (0.0, 1.0)
    assert row["samples"] == 3
    assert 'data-last="1" data-max="3" data-points="3"' in row["backlog_svg"]
    assert 'data-name="in" data-last="0" data-max="6" data-points="2"' in row["rate_svg"]
    assert 'data-name="out" data-last="1" data-max="3" data-points="2"' in row["rate_svg"]


def test_activity_of_a_first_sample_has_a_backlog_and_no_rate_yet() -> None:
    (row,) = trends.activity_view({"worker-test": [Sample(5, 2, 0)]}, now=5)
    assert (row["backlog"], row["in_rate"], row["out_rate"]) == (2, None, None)
    (row,) = trends.activity_view({"worker-test": []}, now=5)
    assert row["backlog"] is None
    assert 'data-points="0"' in row["backlog_svg"]
