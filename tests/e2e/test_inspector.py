"""`etl inspect` in a real headless Chromium against the emulators: the page follows the pipeline.

Chromium is Debian's (`apt-get install -y chromium`; another Chromium or Chrome binary:
`ETL_CHROMIUM=/path`), driven by Playwright without its own browser download. Tests that need it
are skipped, saying so, only when it is not installed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import Settings
from etl_core import is_event_key
from etl_core.timestamps import format_event_time
from etl_harness import provision
from etl_harness.cli import commands
from etl_harness.inspector import serving
from etl_harness.inspector.admin import AdminApi
from tests.e2e.faults import SETTLE_S, served

CHROMIUM = Path(os.environ.get("ETL_CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVICE = "inspector-gate"
LIVE = int(SETTLE_S * 1000)
"""Milliseconds to wait for the page to show what the pipeline did."""


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (never `playwright install`)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: apt-get install -y chromium")
    with chromium() as launched:
        yield launched


def watch(page: Page) -> list[str]:
    """Console errors and uncaught page errors, as they happen."""
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    return problems


def event(delta: int) -> Outgoing:
    body = {"service": SERVICE, "eventTime": format_event_time(datetime.now(UTC)), "event": delta}
    return Outgoing(json.dumps(body).encode(), ordering_key=SERVICE)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/state", timeout=30) as response:
        assert response.status == 200
        body: dict[str, Any] = json.load(response)
    return body


def test_the_page_shows_a_dead_letter_and_occupancy_changes_live(
    settings: Settings, bus: PubSub, browser: Browser, tmp_path: Path
) -> None:
    provision.ensure(settings)
    with serving(settings) as url:
        page = browser.new_page()
        problems = watch(page)
        page.goto(url)
        expect(page.locator("#dead-letters-body")).to_contain_text("no dead letters")
        expect(page.locator("#occupancy-cards")).to_contain_text("no services yet")
        expect(page.locator("#occupancy-chart")).to_contain_text("no occupancy yet")
        expect(page.locator("#reasons-chart")).to_contain_text("no dead letters")
        expect_sampling(page, settings)
        occupancy = page.locator(f'#occupancy-cards .card[data-service="{SERVICE}"] .value')
        line = page.locator(f'#occupancy-chart g.line[data-name="{SERVICE}"]')
        not_json = page.locator('#reasons-chart g.reason[data-reason="not_json"]')
        with served(settings, "current", tmp_path):
            bus.publish(settings.events_topic, [Outgoing(b"not json"), event(1)])
            expect(page.locator("#dead-letters-body")).to_contain_text("not_json", timeout=LIVE)
            expect(not_json).to_have_attribute("data-count", "1", timeout=LIVE)
            expect(occupancy).to_have_text("1", timeout=LIVE)
            expect(line).to_have_attribute("data-last", "1", timeout=LIVE)
            expect(line).to_have_attribute("data-points", re.compile(r"^[1-9]"))
            bus.publish(settings.events_topic, [event(-1)])
            expect(occupancy).to_have_text("0", timeout=LIVE)
            expect(line).to_have_attribute("data-last", "0", timeout=LIVE)
        expect(page.locator("#rows-body")).to_contain_text(f"{SERVICE}#")
        expect(page.locator("#chart svg rect.entries")).to_have_count(1)
        expect(page.locator("#chart svg rect.exits")).to_have_count(1)
        expect_backlog_and_messages(page, settings)
        expect_activity(page, settings)
        expect_faults(page, settings, bus)
        assert problems == []


def expect_backlog_and_messages(page: Page, settings: Settings) -> None:
    """Numbers from the admin API when there is one; otherwise n/a, said once."""
    if not settings.pubsub_admin_host:
        expect(page.locator("#backlog-note")).to_have_text("backlog: n/a (admin API not available)")
        expect(page.locator("#messages-note")).to_contain_text("n/a (admin API not available)")
        return
    worker = page.locator("#pubsub-body tr", has_text=settings.subscription("worker"))
    expect(worker.locator("td").last).to_have_text("3")  # no consumer in shape `current`
    expect(page.locator("#backlog-note")).to_be_hidden()
    expect(page.locator("#messages-body")).to_contain_text("not json")


def worker_activity(page: Page, settings: Settings) -> Locator | None:
    """The worker subscription's row of backlog and messages/s sparklines; None (and the page
    says n/a) without the admin API."""
    if not settings.pubsub_admin_host:
        expect(page.locator("#activity-note")).to_contain_text("n/a (admin API not available)")
        return None
    expect(page.locator("#activity-note")).to_be_hidden()
    name = settings.subscription("worker")
    return page.locator(f'#activity-body tr[data-subscription="{name}"]')


def expect_sampling(page: Page, settings: Settings) -> None:
    """The subscriptions are being sampled, so what is published next is counted."""
    worker = worker_activity(page, settings)
    if worker is not None:
        backlog = worker.locator("svg.backlog g.line")
        expect(backlog).to_have_attribute("data-last", "0", timeout=LIVE)


def expect_activity(page: Page, settings: Settings) -> None:
    """The worker's backlog sparkline ends at the 3 messages nobody consumed (shape `current`),
    and its messages/s in rose while they were published; a reload shows the same history."""
    worker = worker_activity(page, settings)
    if worker is None:
        return
    backlog = worker.locator("svg.backlog g.line")
    expect(backlog).to_have_attribute("data-last", "3", timeout=LIVE)
    expect(backlog).to_have_attribute("data-max", "3")
    rate_in = worker.locator('svg.rate g.line[data-name="in"]')
    expect(rate_in).not_to_have_attribute("data-max", "0")
    page.reload()  # the history is the server's: a new page gets it whole
    expect(backlog).to_have_attribute("data-max", "3")
    expect(rate_in).not_to_have_attribute("data-max", "0")
    expect(backlog).not_to_have_attribute("data-points", re.compile(r"^[01]$"))


def expect_faults(page: Page, settings: Settings, bus: PubSub) -> None:
    """Faults set through the admin API show with their settings, then as off once cleared."""
    if not settings.pubsub_admin_host:
        expect(page.locator("#faults-note")).to_contain_text("n/a (admin API not available)")
        return
    expect(page.locator("#faults-body")).to_contain_text("no faults set")
    admin = AdminApi(settings.pubsub_admin_host, timeout=10)
    path = bus.subscription_path(settings.subscription("worker"))
    # Every pulled message duplicated: at 0.5 the few messages of the backlog drew no duplicate
    # in about one run in eight (each draw hashes the seed with the delivery's ack id).
    admin.set_faults(path, {"duplicate": 1.0, "delay_ms": [10, 20], "seed": 11})
    row = page.locator("#faults-body tr", has_text=settings.subscription("worker"))
    settings_shown = "duplicate 1 · delay 10-20 ms, fraction 1 · seed 11"
    expect(row.locator("td").nth(1)).to_have_text(settings_shown, timeout=LIVE)
    expect(row.locator("td").nth(2)).to_contain_text("duplicate 0")
    pulled = 0
    deadline = time.monotonic() + LIVE / 1000
    while pulled == 0 and time.monotonic() < deadline:  # the 3 messages of the backlog, unacked
        response = bus.subscriber.pull(subscription=path, max_messages=10, timeout=10)
        pulled = len(response.received_messages)
    assert pulled, "the worker subscription's backlog came to no pull"
    expect(row.locator("td").nth(2)).to_contain_text(re.compile(r"duplicate [1-9]"), timeout=LIVE)
    admin.clear_faults(path)
    expect(row.locator("td").nth(1)).to_have_text("off", timeout=LIVE)


@pytest.mark.ours_only("admin API: the dead letters state.json lists come from it")
def test_state_json_agrees_with_etl_status(settings: Settings, bus: PubSub, tmp_path: Path) -> None:
    provision.ensure(settings)
    with served(settings, "worker", tmp_path):
        bus.publish(settings.events_topic, [Outgoing(b"[1, 2]"), event(1), event(1)])
        report = wait_for(settings, lambda r: r["unique_events"] == 2 and r["dead_letters"])
    with serving(settings) as url:
        body = state(url)
    table = body["table"]
    assert {o["service"]: o["occupancy"] for o in table["occupancy"]} == {SERVICE: 2}
    assert [d["reason"] for d in body["dead_letters"]["items"]] == ["not_object"]
    assert report["dead_letters"] == {"not_object": 1}
    assert body["dead_letters"]["by_reason"] == {"not_object": 1}
    assert body["table"]["occupancy_history"][SERVICE][-1]["occupancy"] == 2
    assert body["faults"] == {"items": [], "note": None}
    sampled = {s["name"] for s in body["activity"]["subscriptions"]}
    assert settings.subscription("worker") in sampled
    assert [r["service"] for r in table["rows"]] == [SERVICE, SERVICE]
    assert all(is_event_key(r["key"].encode()) for r in table["rows"])
    assert sum(c["entries"] for c in table["hourly"][SERVICE]) == 2
    topics = {t["name"] for t in body["pubsub"]["topics"]}
    assert topics == {settings.events_topic, settings.written_topic, settings.dead_letter_topic}


def wait_for(
    settings: Settings, done: Callable[[dict[str, Any]], object], timeout: float = SETTLE_S
) -> dict[str, Any]:
    """`etl status` once `done` says so."""
    deadline = time.monotonic() + timeout
    report = commands.status_report(settings)
    while not done(report) and time.monotonic() < deadline:
        time.sleep(0.3)
        report = commands.status_report(settings)
    assert done(report), report
    return report


def test_an_unreachable_emulator_shows_on_the_page_instead_of_failing_it(
    settings: Settings, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    provision.ensure(settings)
    monkeypatch.setenv("BIGTABLE_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
    admin_down = replace(settings, pubsub_admin_host=f"127.0.0.1:{closed_port()}")
    with serving(admin_down) as url:
        page = browser.new_page()
        problems = watch(page)
        page.goto(url)
        expect(page.locator("#table-error")).to_contain_text("no answer within", timeout=LIVE)
        expect(page.locator("#backlog-note")).to_have_text("backlog: n/a (admin API not available)")
        expect(page.locator("#pubsub-body")).to_contain_text(settings.events_topic)
        expect(page.locator("#dead-letters-body")).to_contain_text("no dead letters")
        assert problems == []


@pytest.mark.ours_only("admin API")
def test_admin_api_backlogs_count_what_no_subscriber_has_acknowledged(
    settings: Settings, bus: PubSub
) -> None:
    if not settings.pubsub_admin_host:
        pytest.skip("ETL_PUBSUB_ADMIN_HOST is not set: these emulators have no admin API")
    provision.ensure(settings)
    bus.publish(settings.events_topic, [event(1), event(-1)])
    admin = AdminApi(settings.pubsub_admin_host)
    backlogs = admin.backlogs(settings.project)
    assert backlogs[bus.subscription_path(settings.subscription("worker"))] == 2
    (newest,) = admin.messages(settings.project, 1)
    assert json.loads(base64.b64decode(newest["data_base64"]))["event"] == -1
