"""What the inspector shows over time, as JSON-ready values: occupancy per service over the last
hours, backlog and messages/s per subscription over the last minutes.

Occupancy comes from the data: the occupancy summary row keeps a fold state per hour with events
(`ledger.read_hour_ends`), so its history is exact, reaches back before the inspector started
and survives its restarts. Backlogs and rates exist nowhere afterwards, so they come from the
samples the inspector keeps while it runs (`history.History`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from etl_core.timestamps import format_event_time
from etl_harness.inspector.history import WINDOW_S, Point, Sample, rates
from etl_harness.inspector.lines import sparkline_svg
from etl_harness.inspector.views import WINDOW_HOURS


def occupancy_history(
    ends: Mapping[str, Mapping[datetime, int]], hours: int = WINDOW_HOURS
) -> dict[str, list[tuple[datetime, int]]]:
    """Per service, its occupancy at the end of each hour of the window: the `hours` hours ending
    at the newest hour any service has, from the oldest one any has. `ends` holds each service's
    hours with events (`ledger.read_hour_ends`); an hour without carries the one before on, and
    a service's line starts at its first hour with events."""
    kept = [hour for by_hour in ends.values() for hour in by_hour]
    if not kept:
        return {}
    latest = max(kept)
    first = max(min(kept), latest - timedelta(hours=hours - 1))
    window = [first + timedelta(hours=i) for i in range((latest - first) // timedelta(hours=1) + 1)]
    history = {}
    for service, by_hour in sorted(ends.items()):
        known = sorted(by_hour.items())
        points, value, i = [], None, 0
        for hour in window:
            while i < len(known) and known[i][0] <= hour:
                value, i = known[i][1], i + 1
            if value is not None:
                points.append((hour, value))
        history[service] = points
    return history


def occupancy_history_json(
    history: Mapping[str, Sequence[tuple[datetime, int]]],
) -> dict[str, list[dict[str, Any]]]:
    return {
        service: [{"hour": format_event_time(hour), "occupancy": value} for hour, value in points]
        for service, points in history.items()
    }


def activity_view(
    series: Mapping[str, Sequence[Sample]], now: float, window: float = WINDOW_S
) -> list[dict[str, Any]]:
    """Per subscription, the samples of the last `window` seconds before `now` (monotonic): its
    backlog, and messages/s published to it (`in`) and leaving its backlog (`out`), as numbers
    (the latest) and sparklines. The sparklines span the window, or less while the samples do:
    all on one time scale."""
    oldest = min((s.at for samples in series.values() for s in samples), default=now)
    start = max(now - window, oldest)
    rows = []
    for name, samples in series.items():
        recent = [s for s in samples if s.at >= start]
        backlog = [Point(s.at, s.backlog) for s in recent]
        arrived = rates([Point(s.at, s.published) for s in recent])
        left = rates([Point(s.at, s.left) for s in recent])
        rows.append(
            {
                "name": name,
                "backlog": recent[-1].backlog if recent else None,
                "in_rate": round(arrived[-1].value, 2) if arrived else None,
                "out_rate": round(left[-1].value, 2) if left else None,
                "samples": len(recent),
                "backlog_svg": sparkline_svg({"backlog": backlog}, start, now, "backlog"),
                "rate_svg": sparkline_svg({"in": arrived, "out": left}, start, now, "rate", "/s"),
            }
        )
    return rows
