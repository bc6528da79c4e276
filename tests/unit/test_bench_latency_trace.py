"""bench/latency_trace.py: each event's latency split into stages by joining the bench's stamps
to the worker's pulls."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bench.latency_trace import stages

SECONDS = st.floats(min_value=0, max_value=10, allow_nan=False)


@given(call=SECONDS, publish=SECONDS, wait=SECONDS, pull=SECONDS, batch=SECONDS)
def test_the_stages_of_an_event_add_up_to_its_latency(
    call: float, publish: float, wait: float, pull: float, batch: float
) -> None:
    acked = call + publish
    returned = acked + wait
    event = {"call": call, "acked": acked, "id": "1", "visible": returned + batch}
    pulled = {"kind": "pull", "sent": returned - pull, "returned": returned, "ids": ["1"]}
    [split] = stages([event], [pulled])
    parts = split["publish"] + split["to_pull"] + split["batch"]
    assert math.isclose(parts, split["latency"], abs_tol=1e-6)
    assert math.isclose(split["pull"], pull * 1000, abs_tol=1e-6)


def test_an_event_counts_from_the_pull_that_first_brought_it_and_unseen_ones_are_left_out() -> None:
    events = [
        {"call": 0.0, "acked": 0.01, "id": "a", "visible": 0.6},
        {"call": 0.0, "acked": 0.01, "id": "b", "visible": None},  # never visible
        {"call": 0.0, "acked": 0.01, "id": "c", "visible": 0.2},  # never pulled
    ]
    pulls = [
        {"kind": "pull", "sent": 0.0, "returned": 0.5, "ids": ["a", "b"]},
        {"kind": "pull", "sent": 0.55, "returned": 0.56, "ids": ["a"]},  # a redelivery
        {"kind": "gc", "at": 0.3, "gen": 2, "ms": 100.0},
    ]
    [split] = stages(events, pulls)
    assert round(split["pull"]) == 500
    assert round(split["to_pull"]) == 490
    assert round(split["batch"]) == 100
