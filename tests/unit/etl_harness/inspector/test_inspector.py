"""The inspector's views, chart and app, without emulators (sections are plain functions here)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.config import Settings
from etl.service import ledger
from etl_core import DailyPeak, Event, event_key, status_key
from etl_core.analytics import HourlyCount
from etl_harness.deadletters import DeadLetter
from etl_harness.inspector import views
from etl_harness.inspector.admin import AdminApi, AdminUnavailable
from etl_harness.inspector.app import Inspector, create_app
from etl_harness.inspector.chart import hourly_svg, reasons_svg
from tests.unit.etl.fakes import FakeTable

T0 = datetime(2026, 11, 28, 8, 15, tzinfo=UTC)


def event(service: str, minutes: int, delta: int = 1, event_id: str | None = None) -> Event:
    moment = T0 + timedelta(minutes=minutes)
    return Event(service, moment, delta, event_id or f"{service}-{minutes}")


def stored(events: list[Event]) -> FakeTable:
    """A table holding `events`, with each service's status refreshed as the pipeline does."""
    table = FakeTable()
    table.write_events(events)
    ledger.update(table, ledger.OCCUPANCY, events, T0)
    return table


# --- views ---


def test_message_bytes_show_as_text_or_as_a_bytes_literal() -> None:
    assert views.text_of("señal".encode()) == "señal"
    assert views.text_of(b"\xff\xfe") == r"b'\xff\xfe'"


def test_publish_times_are_shortened_to_milliseconds() -> None:
    assert views.to_ms("2026-11-29T01:26:30.017046013Z") == "2026-11-29T01:26:30.017Z"
    assert views.to_ms("2026-11-29T01:26:30.5Z") == "2026-11-29T01:26:30.500Z"
    assert views.to_ms("2026-11-29T01:26:30Z") == "2026-11-29T01:26:30Z"


def test_only_the_stages_resources_belong_to_it() -> None:
    assert views.of_stage("projects/p/topics/acceso-events-test", "test")
    assert not views.of_stage("projects/p/topics/acceso-events-dev", "test")
    assert not views.of_stage("projects/p/subscriptions/latest", "test")


def sub(name: str, push: str = "") -> dict[str, str]:
    return {
        "name": f"projects/p/subscriptions/{name}",
        "topic": "projects/p/topics/t-test",
        "push_endpoint": push,
    }


SUBS = [sub("b-test", "http://localhost:1/x"), sub("a-test")]


def test_pubsub_view_adds_backlogs_per_subscription_and_per_topic() -> None:
    backlogs = {"projects/p/subscriptions/a-test": 3, "projects/p/subscriptions/b-test": 4}
    view = views.pubsub_view(["projects/p/topics/t-test"], SUBS, backlogs, None)
    assert view["topics"] == [{"name": "t-test", "subscriptions": 2, "backlog": 7}]
    assert [(s["name"], s["backlog"], s["push_endpoint"]) for s in view["subscriptions"]] == [
        ("a-test", 3, None),
        ("b-test", 4, "http://localhost:1/x"),
    ]
    assert view["backlog_note"] is None


def test_without_the_admin_api_backlogs_are_not_available_rather_than_zero() -> None:
    view = views.pubsub_view(["projects/p/topics/t-test"], SUBS, None, "not set")
    assert view["backlog_note"] == "backlog: n/a (admin API not available)"
    assert view["topics"][0]["backlog"] is None
    assert all(s["backlog"] is None for s in view["subscriptions"])


def test_an_admin_api_message_is_decoded_for_display() -> None:
    raw = {
        "id": "m7",
        "topic": "projects/p/topics/acceso-deadletter-test",
        "data_base64": base64.b64encode(b"not json").decode(),
        "attributes": {"reason": "not_json"},
        "publish_time": "2026-11-29T01:26:30.017046013Z",
        "deliveries": 1,
        "acks": 0,
        "ordering_key": "",
    }
    view = views.message_view(raw)
    assert view["topic"] == "acceso-deadletter-test"
    assert view["data"] == "not json"
    assert view["attributes"] == {"reason": "not_json"}
    assert view["publish_time"] == "2026-11-29T01:26:30.017Z"


def test_a_dead_letter_shows_its_reason_detail_data_and_source() -> None:
    letter = DeadLetter("not_json", "Expecting value", b"{", "m1", {"source": "worker"})
    assert views.dead_letter_view(letter) == {
        "reason": "not_json",
        "detail": "Expecting value",
        "data": "{",
        "message_id": "m1",
        "source": "worker",
    }


def test_dead_letters_keep_one_order_whatever_order_a_pull_returns() -> None:
    letters = [DeadLetter("r", "", b"", mid, {}) for mid in ("m3", "m1", "m2")]
    assert [d["message_id"] for d in views.dead_letters_view(letters)] == ["m1", "m2", "m3"]


def test_occupancy_is_read_as_stored() -> None:
    table = stored([event("gate", 0), event("gate", 1), event("gate", 2, -1)])
    table.write_events([event("gate", 3)])  # stored, its summary not committed yet
    view = views.occupancy_view("gate", table.read_status(status_key("gate")))
    assert view["occupancy"] == 1
    assert view["events"] == 3
    assert view["write_time"] == "2026-11-28T08:15:00.000Z"


def test_latest_rows_are_the_newest_events_with_their_row_keys() -> None:
    events = [event("gate", m) for m in range(5)] + [event("door", 10, -1)]
    rows = views.latest_rows(events, limit=3)
    assert [(r["service"], r["event"]) for r in rows] == [("door", -1), ("gate", 1), ("gate", 1)]
    newest = events[-1]
    assert rows[0]["key"] == event_key(newest.service, newest.event_time, newest.event_id).decode()
    assert rows[0]["eventTime"] == "2026-11-28T08:25:00.000Z"


def test_the_window_of_event_rows_read_ends_at_the_newest_hour_with_events() -> None:
    hours = [T0, T0 + timedelta(hours=30), T0 + timedelta(hours=2)]
    assert views.window_start(hours) == T0 + timedelta(hours=30 - 23)
    assert views.window_start([]) is None


def test_hourly_window_fills_empty_hours_and_aligns_every_service() -> None:
    events = [event("gate", 0), event("gate", 1, -1), event("door", 180)]
    window = views.hourly_window(events, hours=4)
    hours = [datetime(2026, 11, 28, h, tzinfo=UTC) for h in (8, 9, 10, 11)]
    assert [c.hour for c in window["gate"]] == hours
    assert [c.hour for c in window["door"]] == hours
    assert [(c.entries, c.exits) for c in window["gate"]] == [(1, 1), (0, 0), (0, 0), (0, 0)]
    assert [(c.entries, c.exits) for c in window["door"]] == [(0, 0), (0, 0), (0, 0), (1, 0)]
    assert views.hourly_window([]) == {}


# --- chart ---


def test_chart_draws_a_bar_per_nonzero_count_with_its_numbers_in_a_tooltip() -> None:
    hour = datetime(2026, 11, 28, 8, tzinfo=UTC)
    svg = hourly_svg(
        {"gate": [HourlyCount(hour, 5, 2), HourlyCount(hour + timedelta(hours=1), 0, 0)]}
    )
    assert svg.count('class="entries"') == 1
    assert svg.count('class="exits"') == 1
    assert "gate 2026-11-28 08:00Z: 5 in, 2 out" in svg
    assert "gate: 5 in, 2 out in 2 h" in svg


def test_chart_escapes_service_names_and_says_when_there_is_nothing() -> None:
    hour = datetime(2026, 11, 28, 8, tzinfo=UTC)
    svg = hourly_svg({"<b>&": [HourlyCount(hour, 1, 0)]})
    assert "<b>" not in svg
    assert "&lt;b&gt;&amp;" in svg
    assert "no events yet" in hourly_svg({})


def test_dead_letters_are_counted_by_reason_most_frequent_first() -> None:
    letters = [DeadLetter(r, "", b"", f"m{i}", {}) for i, r in enumerate("bab")]
    assert list(views.reason_counts(letters).items()) == [("b", 2), ("a", 1)]
    assert views.reason_counts([]) == {}


def test_reasons_chart_draws_a_bar_per_reason_with_its_count() -> None:
    svg = reasons_svg({"not_json": 3, "<x>": 1})
    assert svg.count("<rect") == 2
    assert 'data-reason="not_json" data-count="3"' in svg
    assert "not_json: 3 dead letters" in svg
    assert "&lt;x&gt;: 1 dead letter<" in svg
    assert svg.index("not_json") < svg.index("&lt;x&gt;")
    assert "no dead letters" in reasons_svg({})


# --- faults ---


def fault_status(name: str, faults: dict[str, Any] | None, **fired: int) -> dict[str, Any]:
    counts = dict.fromkeys(("duplicate", "delay", "shuffle", "push_error", "early_redelivery"), 0)
    return {
        "subscription": f"projects/p/subscriptions/{name}",
        "faults": faults,
        "fired": counts | fired,
        "held": 2,
    }


def test_faults_show_the_settings_that_are_on_with_their_counts_for_the_stage_only() -> None:
    on = {
        "duplicate": 0.25,
        "delay_ms": [10, 50],
        "delay_fraction": 0.5,
        "shuffle": True,
        "push_error": 0,
        "early_redelivery": 0,
        "seed": 7,
    }
    statuses = [
        fault_status("worker-test", on, duplicate=4),
        fault_status("push-test", None, push_error=3),
        fault_status("worker-dev", on),
    ]
    rows = views.faults_view(statuses, "test")
    assert [(r["subscription"], r["active"]) for r in rows] == [
        ("push-test", False),
        ("worker-test", True),
    ]
    assert rows[1]["settings"] == [
        "duplicate 0.25",
        "delay 10-50 ms, fraction 0.5",
        "shuffle",
        "seed 7",
    ]
    assert rows[1]["fired"]["duplicate"] == 4
    assert rows[1]["held"] == 2
    assert rows[0]["settings"] == []
    assert rows[0]["fired"]["push_error"] == 3


# --- admin API client ---


def test_admin_api_without_a_host_is_unavailable() -> None:
    with pytest.raises(AdminUnavailable, match="ETL_PUBSUB_ADMIN_HOST is not set"):
        AdminApi(None).backlogs("p")


# --- app ---


SETTINGS = Settings(project="p1", stage="test")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    gate = threading.Event()
    yield gate
    gate.set()


def app_with(sections: dict[str, Any], timeout: float = 2.0) -> Any:
    return create_app(SETTINGS, Inspector(sections, timeout)).test_client()


def test_state_is_every_sections_answer_with_project_and_stage() -> None:
    client = app_with({"pubsub": lambda: {"topics": []}, "table": lambda: {"rows": []}})
    response = client.get("/api/state")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["project"], body["stage"]) == ("p1", "test")
    assert body["pubsub"] == {"topics": []}
    assert body["table"] == {"rows": []}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_failing_section_is_reported_in_its_place_not_as_a_500() -> None:
    def broken() -> dict[str, Any]:
        raise ConnectionError("failed to connect\n  to all addresses")

    body = app_with({"table": broken, "pubsub": lambda: {"ok": True}}).get("/api/state").get_json()
    assert body["table"] == {"error": "ConnectionError: failed to connect to all addresses"}
    assert body["pubsub"] == {"ok": True}


def test_a_hanging_section_times_out_and_is_not_started_again_while_it_hangs(
    release: threading.Event,
) -> None:
    calls: list[float] = []

    def hangs() -> dict[str, Any]:
        calls.append(time.monotonic())
        release.wait(10)
        return {}

    client = app_with({"table": hangs, "pubsub": lambda: {"ok": True}}, timeout=0.2)
    started = time.monotonic()
    first = client.get("/api/state").get_json()
    second = client.get("/api/state").get_json()
    assert time.monotonic() - started < 2
    assert first["table"] == second["table"] == {"error": "no answer within 0.2 s"}
    assert second["pubsub"] == {"ok": True}
    assert len(calls) == 1


def test_the_page_names_project_and_stage_and_loads_its_script() -> None:
    html = app_with({}).get("/").get_data(as_text=True)
    assert "project <b>p1</b> · stage <b>test</b>" in html
    assert "/static/inspector.js" in html
    assert 'rel="icon" href="data:,"' in html  # no favicon request, no 404 in the console
    assert "at most 600 samples per subscription" in html


def test_a_daily_peak_shows_its_day_level_and_when_it_was_first_reached() -> None:
    peak = DailyPeak(datetime(2026, 11, 28, tzinfo=UTC), 7, T0 + timedelta(minutes=3))
    assert views.daily_peak_view("gate", peak) == {
        "service": "gate",
        "day": "2026-11-28",
        "value": 7,
        "at": "2026-11-28T08:18:00.000Z",
    }
