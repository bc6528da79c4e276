"""Hypothesis strategies and constants shared by the `etl_core` unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from etl_core import Event

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
"""The fixed "current time" of every test: never the clock."""

TRICKY_SERVICES = (
    "gate",
    "gate-north",
    "gate#south",
    "gate#",
    "gate\\",
    "gate\\#",
    "gate\\\\",
    "gate0",
    "gate:",
    "gate~status",
    "#",
    "\\",
    "##",
    "puerta añil",
    "入口",
    "🚪",
    "a" * 128,
)

_label_chars = st.characters(exclude_categories=("Cc", "Cs"))


def _fits(text: str) -> bool:
    return len(text.encode()) <= 128


labels = st.text(_label_chars, min_size=1, max_size=40).filter(_fits)
services = st.one_of(
    st.sampled_from(TRICKY_SERVICES),
    st.text(st.sampled_from("ag#\\-~0:"), min_size=1, max_size=6),
    labels,
)
event_ids = st.one_of(st.uuids().map(str), st.text(st.sampled_from("ab#\\0~"), min_size=1), labels)


def _to_ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


event_times = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59, 999999),
    timezones=st.just(UTC),
).map(_to_ms)
deltas = st.sampled_from((1, -1))
events = st.builds(Event, services, event_times, deltas, event_ids)

small_times = st.integers(0, 50).map(lambda s: NOW + timedelta(seconds=s))
"""A narrow window, so that generated events often share a second or an order position."""


@st.composite
def event_sets(draw: st.DrawFn, max_size: int = 30) -> list[Event]:
    """Events of a few services, unique by (service, id), as a list with exact duplicates added."""
    unique = draw(
        st.lists(
            st.builds(
                Event, st.sampled_from(("a", "b", "a#")), small_times, deltas, st.uuids().map(str)
            ),
            max_size=max_size,
            unique_by=lambda e: (e.service, e.event_id),
        )
    )
    copies = draw(st.lists(st.sampled_from(unique), max_size=10)) if unique else []
    return unique + copies


short_text = st.text(max_size=16)
"""Text for hostile values: short, so that generation stays cheap on a loaded machine."""

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | short_text

json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=10,
)
"""Any JSON value, nested a little, each container and string bounded."""

field_values = (
    json_scalars
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(short_text, json_scalars, max_size=3)
)
"""A hostile value for one field of an object: any JSON type, nested one level at most.

For strategies that draw many fields at once (a whole envelope), where `json_values` for every
field made a single draw take seconds on a loaded machine. A field's parser rejects the wrong
type at the top; what is nested deeper is never read."""
