"""The inspector's line charts: geometry, sparklines and the occupancy chart, as SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from hypothesis import given
from hypothesis import strategies as st

from etl_harness.inspector.history import Point
from etl_harness.inspector.lines import Box, number, occupancy_svg, place, sparkline_svg

SVG = "{http://www.w3.org/2000/svg}"
HOUR = datetime(2026, 11, 28, 8, tzinfo=UTC)
finite = st.floats(-1e9, 1e9, allow_nan=False)
BOX = Box(3, 3, 154, 22)


def drawn_points(svg: str) -> list[tuple[float, float]]:
    """Every polyline vertex and dot of `svg`, checked to be in its viewBox."""
    root = ET.fromstring(svg)
    points = [
        (float(c.get("cx", "nan")), float(c.get("cy", "nan"))) for c in root.iter(f"{SVG}circle")
    ]
    for line in root.iter(f"{SVG}polyline"):
        for pair in line.get("points", "").split():
            x, y = pair.split(",")
            points.append((float(x), float(y)))
    return points


def view_box(svg: str) -> tuple[float, float]:
    _, _, width, height = (float(v) for v in ET.fromstring(svg).get("viewBox", "").split())
    return width, height


@given(points=st.lists(st.tuples(finite, finite), max_size=30), xs=st.tuples(finite, finite))
def test_placed_points_lie_in_the_box_in_the_order_given(
    points: list[tuple[float, float]], xs: tuple[float, float]
) -> None:
    placed = place(points, BOX, xs, (0, 100))
    assert len(placed) == len(points)
    for x, y in placed:
        assert BOX.left <= x <= BOX.left + BOX.width
        assert BOX.top <= y <= BOX.top + BOX.height


@given(xs=st.lists(finite, max_size=30), low=finite, span=st.floats(0, 1e9))
def test_increasing_x_stays_increasing(xs: list[float], low: float, span: float) -> None:
    placed = place([(x, 0) for x in sorted(xs)], BOX, (low, low + span), (0, 1))
    assert [x for x, _ in placed] == sorted(x for x, _ in placed)


def test_a_flat_range_puts_x_in_the_middle_and_y_at_the_bottom() -> None:
    assert place([(5, 5)], Box(0, 0, 10, 10), (5, 5), (2, 2)) == [(5.0, 10.0)]


@given(
    gaps=st.lists(st.floats(0, 50), max_size=40),
    values=st.lists(st.floats(0, 1e6), max_size=40),
    end=st.floats(0, 1000),
)
def test_a_sparkline_draws_every_sample_inside_its_view_box(
    gaps: list[float], values: list[float], end: float
) -> None:
    series = [Point(t, v) for t, v in zip(accumulate(gaps), values, strict=False)]
    svg = sparkline_svg({"backlog": series}, 0, end, "backlog")
    width, height = view_box(svg)
    dots = drawn_points(svg)
    assert all(0 <= x <= width and 0 <= y <= height for x, y in dots)
    (group,) = (g for g in ET.fromstring(svg).iter(f"{SVG}g"))
    assert group.get("data-points") == str(len(series))


def test_an_empty_sparkline_draws_no_line_and_one_sample_a_dot() -> None:
    empty = sparkline_svg({"in": [], "out": []}, 0, 60, "rate", "/s")
    assert drawn_points(empty) == []
    assert "no samples yet" in empty
    one = sparkline_svg({"backlog": [Point(30, 4)]}, 0, 60, "backlog")
    assert "<polyline" not in one
    assert len(drawn_points(one)) == 1
    assert 'data-last="4"' in one


def test_a_sparkline_says_its_latest_and_highest_value() -> None:
    svg = sparkline_svg({"in": [Point(1, 0.5), Point(2, 12.0), Point(3, 2.0)]}, 0, 3, "rate", "/s")
    assert 'class="rate"' in svg
    assert 'data-last="2" data-max="12" data-points="3"' in svg
    assert "rate in: 2/s now, at most 12/s (3 samples)" in svg


def test_numbers_are_short() -> None:
    assert [number(v) for v in (3.0, 2.5, 1 / 3, 152.4, 0)] == ["3", "2.5", "0.33", "152", "0"]


def test_occupancy_draws_a_line_per_service_with_a_dot_and_tooltip_per_hour() -> None:
    hours = [HOUR + timedelta(hours=h) for h in range(3)]
    svg = occupancy_svg({"gate": list(zip(hours, [2, 5, 1], strict=True)), "door": []})
    width, height = view_box(svg)
    assert all(0 <= x <= width and 0 <= y <= height for x, y in drawn_points(svg))
    assert svg.count("<circle") == 3
    assert 'data-name="gate" data-last="1" data-max="5" data-points="3"' in svg
    assert "gate 2026-11-28 09:00Z: 5 at the hour&#x27;s end" in svg
    assert "door" not in svg  # nothing to draw yet


def test_occupancy_escapes_service_names_and_says_when_there_is_nothing() -> None:
    svg = occupancy_svg({'<b>"&': [(HOUR, 1)]})
    assert "<b>" not in svg
    assert "&lt;b&gt;&quot;&amp;" in svg
    ET.fromstring(svg)
    assert "no occupancy yet" in occupancy_svg({})
    assert "no occupancy yet" in occupancy_svg({"gate": []})
