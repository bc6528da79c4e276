"""Rich tables for the CLI (where they go: `etl_harness.cli.output`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from etl_core import DailyPeak, Occupancy, ServiceSummary


def occupancy_table(
    result: Mapping[str, Occupancy], truth: Mapping[str, int] | None = None
) -> Table:
    table = Table("service", "occupancy", "anomalies", "events", title="Current occupancy")
    if truth is not None:
        table.add_column("ground truth")
        table.add_column("match")
    for service, occ in sorted(result.items()):
        row = [service, str(occ.value), str(occ.anomalies), str(occ.events)]
        if truth is not None:
            expected = truth.get(service)
            row += [str(expected), "✔" if expected == occ.value else "✘"]
        table.add_row(*row)
    return table


def analytics_table(summaries: Mapping[str, ServiceSummary]) -> Table:
    table = Table(
        "service", "entries", "exits", "busiest hour", "peak", "peak at", title="Analytics"
    )
    for service, s in sorted(summaries.items()):
        entries = sum(h.entries for h in s.hourly)
        exits = sum(h.exits for h in s.hourly)
        busiest = max(s.hourly, key=lambda h: h.entries + h.exits, default=None)
        table.add_row(
            service,
            str(entries),
            str(exits),
            busiest.hour.strftime("%Y-%m-%d %H:00") if busiest else "-",
            str(s.peak.value),
            s.peak.at.strftime("%Y-%m-%d %H:%M") if s.peak.at else "-",
        )
    return table


def daily_peaks_table(daily: Mapping[str, Sequence[DailyPeak]]) -> Table:
    table = Table("service", "day", "peak", "first reached", title="Daily peaks")
    for service, peaks in sorted(daily.items()):
        for peak in peaks:
            table.add_row(
                service, peak.day.strftime("%Y-%m-%d"), str(peak.value), peak.at.strftime("%H:%M")
            )
    return table


def status_table(report: Mapping[str, Any]) -> Table:
    table = Table("service", "occupancy", "events", "anomalies", title="Status")
    for service, row in sorted(report["services"].items()):
        table.add_row(service, *(str(row[k]) for k in ("occupancy", "events", "anomalies")))
    counters = ", ".join(f"{k} {v}" for k, v in sorted(report["counters"].items())) or "none yet"
    letters = ", ".join(f"{k} {v}" for k, v in sorted(report["dead_letters"].items())) or "none"
    duplicates = report["duplicates"]
    table.caption = (
        f"counters: {counters} · duplicates absorbed: {duplicates} · dead letters: {letters}"
    )
    return table
