"""Where the inspector reads, read-only: the official clients, and our emulator's admin API.

One method per section of the page, each returning that section's JSON. Nothing here writes:
occupancy is read as stored (no refresh), dead letters come from the admin API's message log
(without it they are pulled and released again at once, as `etl dead-letters` lists them), and
the table is read a bounded window at a time. The one thing kept is `history`: a sample of the
backlogs and of the message log per poll, at most one per `history.MIN_INTERVAL_S`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import PubSub
from etl.config import Settings
from etl.service import ledger
from etl_core import Event, daily_key, status_key
from etl_core.rowkeys import STATUS_SUFFIX, service_of_status_key
from etl_harness import deadletters
from etl_harness.inspector import trends, views
from etl_harness.inspector.admin import AdminApi, AdminUnavailable
from etl_harness.inspector.chart import hourly_svg, reasons_svg
from etl_harness.inspector.history import WINDOW_S, History
from etl_harness.inspector.lines import occupancy_svg

RPC_TIMEOUT = 5.0
MESSAGES = 12
DEAD_LETTERS = 1000
LOG = 1000
"""Messages read from the admin API's log per sample, to count what was published since the
last (the emulator keeps the latest 1,000 of all projects)."""
SERVICES_TTL = 5.0
"""Seconds the list of services is reused: listing it reads every row key of the table."""

Section = Callable[[], dict[str, Any]]


class Sources:
    """Long-lived clients for one project and stage; `sections()` is what the page polls."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.admin = AdminApi(settings.pubsub_admin_host)
        self.bus = PubSub(settings)
        self.table = EventTable(settings)
        self.history = History()
        self._clock = clock
        self._services: tuple[float, list[str]] | None = None

    def close(self) -> None:
        self.bus.close()
        self.table.close()

    def sections(self) -> dict[str, Section]:
        return {
            "pubsub": self.pubsub,
            "messages": self.messages,
            "dead_letters": self.dead_letters,
            "table": self.table_state,
            "activity": self.activity,
            "faults": self.faults,
        }

    def pubsub(self) -> dict[str, Any]:
        """Topics and subscriptions of the stage (official clients), backlogs (admin API)."""
        project = f"projects/{self.settings.project}"
        topics = self.bus.publisher.list_topics(project=project, timeout=RPC_TIMEOUT)
        subscriptions = [
            {"name": s.name, "topic": s.topic, "push_endpoint": s.push_config.push_endpoint}
            for s in self.bus.subscriber.list_subscriptions(project=project, timeout=RPC_TIMEOUT)
            if views.of_stage(s.name, self.settings.stage)
        ]
        try:
            backlogs: dict[str, int] | None = self.admin.backlogs(self.settings.project)
            admin_error = None
        except AdminUnavailable as err:
            backlogs, admin_error = None, str(err)
        names = sorted(t.name for t in topics if views.of_stage(t.name, self.settings.stage))
        return views.pubsub_view(names, subscriptions, backlogs, admin_error)

    def messages(self) -> dict[str, Any]:
        """The most recent messages of the project (admin API); n/a without it."""
        try:
            raw = self.admin.messages(self.settings.project, MESSAGES)
        except AdminUnavailable as err:
            return {
                "items": None,
                "note": "recent messages: n/a (admin API not available)",
                "admin_error": str(err),
            }
        return {"items": [views.message_view(m) for m in raw], "note": None}

    def dead_letters(self) -> dict[str, Any]:
        """Every dead letter with its reason: from the admin API's log of the dead-letter topic
        (nothing pulled), else as `etl dead-letters` lists them (pulled, released at once)."""
        try:
            raw = self.admin.messages(
                self.settings.project, DEAD_LETTERS, topic=self.settings.dead_letter_topic
            )
            letters = deadletters.from_admin_log(raw)
        except AdminUnavailable:
            letters = deadletters.pulled(self.bus)
        by_reason = views.reason_counts(letters)
        return {
            "items": views.dead_letters_view(letters),
            "by_reason": by_reason,
            "reasons_svg": reasons_svg(by_reason),
        }

    def activity(self) -> dict[str, Any]:
        """Backlog and messages/s per subscription over the last minutes: a sample of the admin
        API's backlogs and message log recorded (when due), then the history drawn."""
        now = self._clock()
        if self.history.due(now):
            project = self.settings.project
            try:
                subscriptions = self.admin.subscriptions(project)
                log = self.admin.messages(project, LOG)
            except AdminUnavailable as err:
                return {
                    "subscriptions": None,
                    "note": "backlog and messages/s over time: n/a (admin API not available)",
                    "admin_error": str(err),
                }
            self.history.record(now, self._backlogs(subscriptions), _ids_and_topics(log))
        rows = trends.activity_view(self.history.series(), now)
        return {"subscriptions": rows, "note": None, "window_s": WINDOW_S}

    def _backlogs(self, subscriptions: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, int]]:
        return {
            views.short_name(s["name"]): (views.short_name(s["topic"]), int(s["backlog"]))
            for s in subscriptions
            if views.of_stage(s["name"], self.settings.stage)
        }

    def faults(self) -> dict[str, Any]:
        """The stage's subscriptions with faults set now or before (admin API); n/a without."""
        try:
            statuses = self.admin.faults(self.settings.project)
        except AdminUnavailable as err:
            return {
                "items": None,
                "note": "faults: n/a (admin API not available)",
                "admin_error": str(err),
            }
        return {"items": views.faults_view(statuses, self.settings.stage), "note": None}

    def table_state(self) -> dict[str, Any]:
        """Stored occupancy, its history by hour and daily peaks per service, hourly
        entries/exits and the latest event rows."""
        occupancy: list[dict[str, Any]] = []
        ends: dict[str, dict[datetime, int]] = {}
        daily: list[dict[str, Any]] = []
        events: list[Event] = []
        for service in self.services():
            status = self.table.read_status(status_key(service))
            occupancy.append(views.occupancy_view(service, status))
            ends[service] = {h: o.value for h, o in ledger.read_hour_ends(status).items()}
            peaks = ledger.read_daily(self.table.read_status(daily_key(service)))
            daily.extend(views.daily_peak_view(service, p) for p in peaks.values())
            events.extend(self.table.scan_events(service, start=views.window_start(ends[service])))
        hourly = views.hourly_window(events)
        history = trends.occupancy_history(ends)
        return {
            "occupancy": occupancy,
            "occupancy_history": trends.occupancy_history_json(history),
            "occupancy_svg": occupancy_svg(history),
            "hourly": views.hourly_json(hourly),
            "chart_svg": hourly_svg(hourly),
            "rows": views.latest_rows(events),
            "daily_peaks": daily[-views.ROWS :],
        }

    def services(self) -> list[str]:
        """Every service with a status row (listed again after `SERVICES_TTL` seconds)."""
        now = time.monotonic()
        if self._services is None or now - self._services[0] > SERVICES_TTL:
            keys = self.table.list_status_keys(STATUS_SUFFIX)
            self._services = (now, sorted(service_of_status_key(k) for k in keys))
        return self._services[1]


def _ids_and_topics(log: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The admin API's messages as `(id, topic name)`, what `History.record` counts."""
    return [(str(m.get("id", "")), views.short_name(str(m.get("topic", "")))) for m in log]
