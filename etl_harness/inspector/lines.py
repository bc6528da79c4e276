"""Line charts as inline SVG: occupancy per service over the last hours, and sparklines.

`place` maps data to the drawing and is the only geometry here: every point it returns lies in
its box, in the order given. Each line is a `<g class="line …">` carrying `data-last`,
`data-max` and `data-points` (what the line shows, for people hovering it and for tests), with
a tooltip; a line of one point is a dot. Every text is escaped, so the result can be inserted
as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from etl_harness.inspector.history import Point

WIDTH, HEIGHT = 720, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 26, 22
LEGEND, PER_ROW = 14, 5
"""Legend: a row of `PER_ROW` services every `LEGEND` units, above the lines."""
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 28, 3
PALETTE = ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8e7dbe", "#5b8e7d")
AXIS = "#999"


@dataclass(frozen=True, slots=True)
class Box:
    """The drawing area, in SVG units (y grows downwards)."""

    left: float
    top: float
    width: float
    height: float


def place(
    points: Sequence[tuple[float, float]],
    box: Box,
    xs: tuple[float, float],
    ys: tuple[float, float],
) -> list[tuple[float, float]]:
    """Data points as SVG coordinates in `box`: x spans `xs`, y spans `ys` bottom to top.

    Values outside a range sit on the box's edge; a range of zero width puts x in the middle
    and y at the bottom. Order is kept, so increasing x stays increasing (or equal).
    """
    return [
        (box.left + box.width * _share(x, xs, 0.5), box.top + box.height * (1 - _share(y, ys, 0.0)))
        for x, y in points
    ]


def _share(value: float, bounds: tuple[float, float], flat: float) -> float:
    low, high = bounds
    if not high > low:
        return flat
    return min(1.0, max(0.0, (value - low) / (high - low)))


def number(value: float) -> str:
    """`3` for 3.0, `2.5`, `0.33`, `152` (rates): short, no trailing zeros, no exponent."""
    if value == int(value) or abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}"


def occupancy_svg(series: Mapping[str, Sequence[tuple[datetime, int]]]) -> str:
    """One line per service: its occupancy at the end of each hour (x: the hour's start), a dot
    per hour with its number in a tooltip."""
    drawn = {service: points for service, points in sorted(series.items()) if points}
    if not drawn:
        body = '<text x="4" y="20" class="empty">no occupancy yet</text>'
        return _svg(WIDTH, 30, "occupancy per service", body)
    hours = sorted({hour for points in drawn.values() for hour, _ in points})
    xs = (hours[0].timestamp(), hours[-1].timestamp())
    peak = max(value for points in drawn.values() for _, value in points) or 1
    top = TOP + LEGEND * ((len(drawn) - 1) // PER_ROW)
    box = Box(LEFT, top, WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - top)
    bottom = top + box.height
    parts = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}" stroke="{AXIS}"/>',
        f'<text x="{LEFT - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{bottom}" text-anchor="end">0</text>',
    ]
    for i, hour in enumerate(hours):
        if i % 6 == 0:
            ((x, _),) = place([(hour.timestamp(), 0)], box, xs, (0, peak))
            label = f"{hour:%H}h"
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{label}</text>')
    for index, (service, points) in enumerate(drawn.items()):
        colour = PALETTE[index % len(PALETTE)]
        at = [(hour.timestamp(), value) for hour, value in points]
        tips = [f"{service} {hour:%Y-%m-%d %H}:00Z: {v} at the hour's end" for hour, v in points]
        parts.append(_line("service", service, at, box, (xs, (0, peak)), colour, tips))
        row, column = divmod(index, PER_ROW)
        parts.append(
            f'<text x="{LEFT + column * (WIDTH - LEFT) // PER_ROW}" y="{14 + LEGEND * row}" '
            f'class="legend" style="fill: {colour}">{escape(service)}: {points[-1][1]}</text>'
        )
    return _svg(WIDTH, HEIGHT, "occupancy per service over the last hours", "".join(parts))


def sparkline_svg(
    lines: Mapping[str, Sequence[Point]], start: float, end: float, what: str, unit: str = ""
) -> str:
    """A small chart of one or more lines over `start`…`end` (monotonic seconds), on one scale
    from 0; `what` names it (its class and label), `unit` follows each number in the tooltip."""
    top = max((p.value for points in lines.values() for p in points), default=0.0)
    box = Box(SPARK_PAD, SPARK_PAD, SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD)
    base = SPARK_HEIGHT - SPARK_PAD
    parts = [
        f'<line x1="0" x2="{SPARK_WIDTH}" y1="{base}" y2="{base}" stroke="{AXIS}" '
        'stroke-width="0.5"/>'
    ]
    for index, (name, points) in enumerate(lines.items()):
        colour = PALETTE[(index + 1) % len(PALETTE)]
        at = [(p.at, p.value) for p in points]
        last = f"{number(points[-1].value)}{unit} now" if points else "no samples yet"
        label = what if name == what else f"{what} {name}"
        tip = f"{label}: {last}, at most {number(top)}{unit} ({len(points)} samples)"
        parts.append(_line(name, name, at, box, ((start, end), (0, top or 1)), colour, [tip]))
    return _svg(SPARK_WIDTH, SPARK_HEIGHT, what, "".join(parts), css=what, fixed=True)


def _line(
    kind: str,
    name: str,
    points: Sequence[tuple[float, float]],
    box: Box,
    ranges: tuple[tuple[float, float], tuple[float, float]],
    colour: str,
    tips: Sequence[str],
) -> str:
    """A line with a dot at its end and `tips[0]` as its tooltip, or, given a tip per point, a
    dot per point with its own."""
    values = [v for _, v in points]
    attributes = (
        f'class="line {escape(kind)}" data-name="{escape(name)}" '
        f'data-last="{number(values[-1]) if values else ""}" '
        f'data-max="{number(max(values, default=0))}" data-points="{len(values)}"'
    )
    placed = place(points, box, *ranges)
    parts = [f"<g {attributes}>"]
    if len(placed) > 1:
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in placed)
        parts.append(
            f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
    if len(tips) == len(placed):
        dots = [(xy, f"<title>{escape(tip)}</title>") for xy, tip in zip(placed, tips, strict=True)]
    else:
        parts.append(f"<title>{escape(tips[0])}</title>")
        dots = [(xy, "") for xy in placed[-1:]]
    for (x, y), title in dots:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">{title}</circle>')
    parts.append("</g>")
    return "".join(parts)


def _svg(width: int, height: int, label: str, body: str, css: str = "", fixed: bool = False) -> str:
    """`fixed`: drawn at its own size (a sparkline in a table cell), else as wide as its box."""
    kind = f' class="{escape(css)}"' if css else ""
    size = f'width="{width}" height="{height}"' if fixed else 'width="100%"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg"{kind} viewBox="0 0 {width} {height}" '
        f'{size} role="img" aria-label="{escape(label)}">{body}</svg>'
    )
