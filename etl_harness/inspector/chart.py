"""Bar charts as inline SVG: hourly entries/exits per service, and dead letters by reason.

Hourly: one panel per service, entries up, exits down, same colours as `etl analytics --plot`
(etl/plot.py); all panels share one scale so sites compare at a glance. Reasons: one bar per
reason, most frequent first. Every bar has a tooltip with its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from etl_core.analytics import HourlyCount

WIDTH = 720
LEFT, RIGHT = 44, 8
TITLE, HALF, LABELS = 20, 36, 18
PANEL = TITLE + 2 * HALF + LABELS
ENTRIES, EXITS, AXIS = "#2a9d8f", "#e76f51", "#999"
REASON_WIDTH, REASON_ROW, REASON_LABEL, REASON_BAR = 400, 20, 130, "#b5838d"
"""The reasons chart is narrower: it sits in a narrow column."""


def hourly_svg(series: Mapping[str, Sequence[HourlyCount]]) -> str:
    """An `<svg>` element (safe to insert as HTML: every text is escaped)."""
    if not any(series.values()):
        return _svg(30, '<text x="4" y="20" class="empty">no events yet</text>')
    peak = max(max(c.entries, c.exits) for counts in series.values() for c in counts) or 1
    panels = [
        _panel(index * PANEL, service, counts, peak)
        for index, (service, counts) in enumerate(series.items())
    ]
    return _svg(PANEL * len(panels), "".join(panels))


def _svg(
    height: int, body: str, label: str = "hourly entries and exits", width: int = WIDTH
) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{label}">{body}</svg>'
    )


def _panel(top: int, service: str, counts: Sequence[HourlyCount], peak: int) -> str:
    base = top + TITLE + HALF
    entries, exits = sum(c.entries for c in counts), sum(c.exits for c in counts)
    title = f"{service}: {entries} in, {exits} out in {len(counts)} h"
    parts = [
        f'<g class="panel" data-service="{escape(service)}">',
        f'<text x="{LEFT}" y="{top + 14}" class="title">{escape(title)}</text>',
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="{AXIS}"/>',
        _axis_label(base - HALF + 10, f"+{peak}"),
        _axis_label(base + HALF, f"-{peak}"),
    ]
    slot = (WIDTH - LEFT - RIGHT) / len(counts)
    for i, count in enumerate(counts):
        parts.append(_bars(LEFT + i * slot, slot, base, service, count, peak))
        if i % 6 == 0:
            label = f"{count.hour:%H}h"
            parts.append(f'<text x="{LEFT + i * slot:.1f}" y="{base + HALF + 14}">{label}</text>')
    parts.append("</g>")
    return "".join(parts)


def _axis_label(y: int, text: str) -> str:
    return f'<text x="{LEFT - 6}" y="{y}" text-anchor="end">{text}</text>'


def _bars(x: float, slot: float, base: int, service: str, count: HourlyCount, peak: int) -> str:
    tip = escape(f"{service} {count.hour:%Y-%m-%d %H}:00Z: {count.entries} in, {count.exits} out")
    left, width = x + slot * 0.1, slot * 0.8
    up, down = count.entries / peak * HALF, count.exits / peak * HALF
    out = [f"<g><title>{tip}</title>"]
    if up:
        out.append(_rect("entries", left, base - up, width, up, ENTRIES))
    if down:
        out.append(_rect("exits", left, base, width, down, EXITS))
    out.append("</g>")
    return "".join(out)


def _rect(kind: str, x: float, y: float, width: float, height: float, fill: str) -> str:
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="{fill}"/>'
    )


def reasons_svg(counts: Mapping[str, int]) -> str:
    """One bar per dead-letter reason (`<g class="reason" data-reason data-count>`), the most
    frequent first, lengths to one scale."""
    if not counts:
        body = '<text x="4" y="20" class="empty">no dead letters</text>'
        return _svg(30, body, "dead letters by reason", REASON_WIDTH)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    peak = ordered[0][1] or 1
    room = REASON_WIDTH - REASON_LABEL - RIGHT - 40
    rows = []
    for i, (reason, count) in enumerate(ordered):
        y = i * REASON_ROW
        length = max(1.0, count / peak * room)
        tip = escape(f"{reason}: {count} dead letter{'' if count == 1 else 's'}")
        rows.append(
            f'<g class="reason" data-reason="{escape(reason)}" data-count="{count}">'
            f"<title>{tip}</title>"
            f'<text x="{REASON_LABEL - 6}" y="{y + 14}" text-anchor="end">{escape(reason)}</text>'
            f'<rect x="{REASON_LABEL}" y="{y + 4}" width="{length:.1f}" height="{REASON_ROW - 8}" '
            f'fill="{REASON_BAR}"/>'
            f'<text x="{REASON_LABEL + length + 4:.1f}" y="{y + 14}">{count}</text></g>'
        )
    height = REASON_ROW * len(rows)
    return _svg(height, "".join(rows), "dead letters by reason", REASON_WIDTH)
