"""What the inspector shows, as JSON-ready values: pure functions of what the sources read."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from etl.service import ledger
from etl.service.ports import StatusRow
from etl_core import DailyPeak, Event, event_key, hourly_counts
from etl_core.analytics import HourlyCount
from etl_core.timestamps import format_event_time
from etl_harness.deadletters import DeadLetter

WINDOW_HOURS = 24
"""Hours of event rows read per service (ending at its latest hour) and drawn in the chart."""
ROWS = 12
"""Latest event rows listed."""


def text_of(data: bytes) -> str:
    """Message bytes as text: UTF-8 when they are, else their Python bytes literal."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return repr(data)


def to_ms(rfc3339: str) -> str:
    """`…T01:26:30.017046013Z` → `…T01:26:30.017Z` (RFC 3339 UTC with nanoseconds, shortened)."""
    head, dot, rest = rfc3339.partition(".")
    if not dot or not rest.endswith("Z"):
        return rfc3339
    return f"{head}.{rest[:-1][:3].ljust(3, '0')}Z"


def short_name(path: str) -> str:
    """`projects/P/topics/T` → `T` (any resource path; a bare name stays as it is)."""
    return path.rsplit("/", 1)[-1]


def of_stage(name: str, stage: str) -> bool:
    """Whether a resource belongs to `stage`: etl.toml names every one `…-{stage}`."""
    return short_name(name).endswith(f"-{stage}")


def pubsub_view(
    topics: Sequence[str],
    subscriptions: Sequence[Mapping[str, str]],
    backlogs: Mapping[str, int] | None,
    admin_error: str | None,
) -> dict[str, Any]:
    """Topics with their subscriptions' total backlog; subscriptions with theirs (None: n/a)."""
    ordered = sorted(subscriptions, key=lambda s: s["name"])
    backlog = {s["name"]: None if backlogs is None else backlogs.get(s["name"], 0) for s in ordered}
    subs = [
        {
            "name": short_name(s["name"]),
            "topic": short_name(s["topic"]),
            "push_endpoint": s["push_endpoint"] or None,
            "backlog": backlog[s["name"]],
        }
        for s in ordered
    ]
    topic_rows = []
    for topic in topics:
        own = [s["name"] for s in ordered if s["topic"] == topic]
        total = None if backlogs is None else sum(backlog[n] or 0 for n in own)
        topic_rows.append({"name": short_name(topic), "subscriptions": len(own), "backlog": total})
    return {
        "topics": topic_rows,
        "subscriptions": subs,
        "backlog_note": None if backlogs is not None else "backlog: n/a (admin API not available)",
        "admin_error": admin_error,
    }


def message_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One message of the admin API's `/v1/messages`, decoded for display."""
    return {
        "id": raw.get("id", ""),
        "topic": short_name(str(raw.get("topic", ""))),
        "data": text_of(base64.b64decode(raw.get("data_base64", ""))),
        "attributes": dict(raw.get("attributes") or {}),
        "publish_time": to_ms(str(raw.get("publish_time", ""))),
        "deliveries": raw.get("deliveries", 0),
        "acks": raw.get("acks", 0),
        "ordering_key": raw.get("ordering_key", ""),
    }


def dead_letters_view(letters: Iterable[DeadLetter]) -> list[dict[str, Any]]:
    """Dead letters in a stable order (pulls return them in any order): by original message id."""
    return [dead_letter_view(d) for d in sorted(letters, key=lambda d: d.message_id)]


def dead_letter_view(letter: DeadLetter) -> dict[str, Any]:
    return {
        "reason": letter.reason,
        "detail": letter.detail,
        "data": text_of(letter.data),
        "message_id": letter.message_id,
        "source": letter.attributes.get("source", ""),
    }


def reason_counts(letters: Iterable[DeadLetter]) -> dict[str, int]:
    """Dead letters per reason, the most frequent first."""
    counts = Counter(letter.reason for letter in letters)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def occupancy_view(service: str, status: StatusRow) -> dict[str, Any]:
    """A service's stored occupancy, read as `etl status` reads it (nothing refreshed)."""
    occ = ledger.current_occupancy(status)
    return {
        "service": service,
        "occupancy": occ.value,
        "events": occ.events,
        "anomalies": occ.anomalies,
        "write_time": ledger.written_at(status),
    }


def daily_peak_view(service: str, peak: DailyPeak) -> dict[str, Any]:
    """One stored daily peak, as the page lists it."""
    return {
        "service": service,
        "day": peak.day.strftime("%Y-%m-%d"),
        "value": peak.value,
        "at": format_event_time(peak.at),
    }


def latest_rows(events: Iterable[Event], limit: int = ROWS) -> list[dict[str, Any]]:
    """The newest event rows (by event time), with their row keys."""
    newest = sorted(events, key=lambda e: (e.event_time, e.event_id), reverse=True)[:limit]
    return [
        {
            "key": event_key(e.service, e.event_time, e.event_id).decode(),
            "service": e.service,
            "eventTime": format_event_time(e.event_time),
            "event": e.delta,
        }
        for e in newest
    ]


def window_start(hours_kept: Iterable[datetime], hours: int = WINDOW_HOURS) -> datetime | None:
    """Start of the last `hours` hours of a service's events, ending at its newest hour with
    events (`hours_kept`: those its summary keeps); None when it keeps none yet."""
    newest = max(hours_kept, default=None)
    return None if newest is None else newest - timedelta(hours=hours - 1)


def hourly_window(
    events: Iterable[Event], hours: int = WINDOW_HOURS
) -> dict[str, list[HourlyCount]]:
    """Entries and exits per service for each of the `hours` hours ending at the latest one."""
    counted = hourly_counts(events)
    latest = max((c.hour for counts in counted.values() for c in counts), default=None)
    if latest is None:
        return {}
    first = latest - timedelta(hours=hours - 1)
    window = [first + timedelta(hours=i) for i in range(hours)]
    result = {}
    for service, counts in sorted(counted.items()):
        by_hour = {c.hour: c for c in counts}
        result[service] = [by_hour.get(h, HourlyCount(h, 0, 0)) for h in window]
    return result


def hourly_json(series: Mapping[str, Sequence[HourlyCount]]) -> dict[str, list[dict[str, Any]]]:
    return {
        service: [
            {"hour": format_event_time(c.hour), "entries": c.entries, "exits": c.exits}
            for c in counts
        ]
        for service, counts in series.items()
    }


def faults_view(statuses: Iterable[Mapping[str, Any]], stage: str) -> list[dict[str, Any]]:
    """The stage's subscriptions that have or had faults (the admin API's `/v1/faults`): which
    are on with their settings, the counts fired, the messages held back now."""
    rows = []
    for status in sorted(statuses, key=lambda s: str(s.get("subscription", ""))):
        name = str(status.get("subscription", ""))
        if not of_stage(name, stage):
            continue
        config = status.get("faults")
        rows.append(
            {
                "subscription": short_name(name),
                "active": config is not None,
                "settings": fault_settings(config) if config is not None else [],
                "fired": {k: int(v) for k, v in (status.get("fired") or {}).items()},
                "held": int(status.get("held", 0)),
            }
        )
    return rows


def fault_settings(config: Mapping[str, Any]) -> list[str]:
    """The faults that are on, as the emulator reports them (`duplicate 0.1`, `delay 10-50 ms,
    fraction 0.5`, `shuffle`, …), then the seed that makes them repeatable."""
    on = [
        f"{key} {config[key]:g}"
        for key in ("duplicate", "push_error", "early_redelivery")
        if config.get(key)
    ]
    if config.get("delay_fraction"):
        low, high = config.get("delay_ms") or (0, 0)
        on.append(f"delay {low}-{high} ms, fraction {config['delay_fraction']:g}")
    if config.get("shuffle"):
        on.append("shuffle")
    if config.get("seed") is not None:
        on.append(f"seed {config['seed']}")
    return on
