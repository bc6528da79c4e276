"""Checkpointed refolds give the same occupancy as folding a service from its first event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_core import Event, Occupancy, fold
from etl_core.checkpoints import (
    MAX_CHECKPOINTS,
    CorruptStatus,
    decode_state,
    encode_state,
    keep_latest,
    refold,
    resume_point,
)
from tests.unit.core.core_strategies import deltas

H0 = datetime(2024, 5, 6, tzinfo=UTC)

timelines = st.lists(
    st.builds(
        Event,
        st.just("s"),
        st.integers(0, 6 * 3600 - 1).map(lambda s: H0 + timedelta(seconds=s)),
        deltas,
        st.uuids().map(str),
    ),
    max_size=40,
    unique_by=lambda e: e.event_id,
)


def test_a_checkpoint_is_the_state_before_the_first_event_of_its_hour() -> None:
    events = [Event("s", H0 + timedelta(minutes=m), 1, str(m)) for m in (5, 10, 70)]
    state, checkpoints = refold(Occupancy(), reversed(events))
    assert state == Occupancy(3, 0, 3)
    assert checkpoints == {H0: Occupancy(), H0 + timedelta(hours=1): Occupancy(2, 0, 2)}


def test_without_a_checkpoint_at_or_before_the_dirty_time_the_refold_starts_over() -> None:
    checkpoints = {H0 + timedelta(hours=2): Occupancy(1, 0, 1)}
    assert resume_point(checkpoints, [H0]) == (None, Occupancy())
    assert resume_point(checkpoints, []) == (H0 + timedelta(hours=2), Occupancy(1, 0, 1))


@given(timelines, st.integers(0, 6 * 3600))
def test_resuming_at_a_checkpoint_equals_folding_from_the_start(
    events: list[Event], dirty_s: int
) -> None:
    full, checkpoints = refold(Occupancy(), events)
    assert full == fold(events).get("s", Occupancy())
    start, state = resume_point(checkpoints, [H0 + timedelta(seconds=dirty_s)])
    rest = [e for e in events if start is None or e.event_time >= start]
    assert refold(state, rest)[0] == full


def test_only_the_newest_checkpoints_are_kept() -> None:
    checkpoints = {H0 + timedelta(hours=h): Occupancy(h, 0, h) for h in range(MAX_CHECKPOINTS + 5)}
    kept = keep_latest(checkpoints)
    assert len(kept) == MAX_CHECKPOINTS
    assert min(kept) == H0 + timedelta(hours=5)


def test_a_state_survives_encoding_and_a_corrupt_one_is_reported() -> None:
    state = Occupancy(3, 1, 9)
    assert encode_state(state) == b"3,1,9"
    assert decode_state(encode_state(state)) == state
    for raw in (b"", b"1,2", b"a,b,c", b"\xff"):
        with pytest.raises(CorruptStatus):
            decode_state(raw)
