"""Hour summaries compose as their readings concatenate, so a tree of them folds any set of
hours, changed in any order, exactly as the readings do one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from etl_core.hour_summary import EMPTY, HourSummary, Reading, SummaryTree
from etl_core.occupancy import Occupancy
from tests.unit.core.test_hour_ledger import fold_hour

START = datetime(2026, 12, 7, tzinfo=UTC)

runs = st.lists(st.tuples(st.integers(0, 3599), st.sampled_from([1, 1, -1])), max_size=30)
states = st.builds(Occupancy, st.integers(0, 5), st.integers(0, 3), st.integers(0, 9))


def readings_of(hour: int, moments: list[tuple[int, int]]) -> list[Reading]:
    start = START + timedelta(hours=hour)
    return sorted(
        (start + timedelta(seconds=s), f"h{hour}e{i}", d) for i, (s, d) in enumerate(moments)
    )


@given(runs, runs, runs)
def test_composing_summaries_gives_the_summary_of_the_readings_one_after_the_other(
    a: list[tuple[int, int]], b: list[tuple[int, int]], c: list[tuple[int, int]]
) -> None:
    ra, rb, rc = readings_of(0, a), readings_of(1, b), readings_of(2, c)
    sa, sb, sc = (HourSummary.of(r) for r in (ra, rb, rc))
    assert sa.compose(sb) == HourSummary.of(ra + rb)
    assert sa.compose(sb).compose(sc) == sa.compose(sb.compose(sc))
    assert sa.compose(EMPTY) == EMPTY.compose(sa) == sa


@given(
    st.lists(st.tuples(st.integers(-9000, 9000), runs), max_size=12),  # several top nodes
    st.randoms(use_true_random=False),
    states,
)
def test_a_tree_set_in_any_order_folds_any_state_as_the_readings_do_one_by_one(
    hours: list[tuple[int, list[tuple[int, int]]]], rng: object, state: Occupancy
) -> None:
    latest = dict(hours)  # an hour set twice keeps its last readings
    tree = SummaryTree()
    order = list(hours)
    rng.shuffle(order)  # type: ignore[attr-defined]
    for hour, moments in order:  # one hour at a time
        tree.set({hour: HourSummary.of(readings_of(hour, moments))})
    tree.set({h: HourSummary.of(readings_of(h, m)) for h, m in latest.items()})  # all at once
    every = [r for hour in sorted(latest) for r in readings_of(hour, latest[hour])]
    assert tree.total().apply(state) == fold_hour(state, every)
    built = SummaryTree.build({h: HourSummary.of(readings_of(h, m)) for h, m in latest.items()})
    assert built.total() == tree.total()
    assert built == tree


@given(st.lists(st.tuples(st.integers(0, 300), runs), max_size=8))
def test_emptying_every_hour_leaves_an_empty_tree(
    hours: list[tuple[int, list[tuple[int, int]]]],
) -> None:
    tree = SummaryTree()
    for hour, moments in hours:
        tree.set({hour: HourSummary.of(readings_of(hour, moments))})
    tree.set({hour: EMPTY for hour, _ in hours})
    assert tree == SummaryTree()
    assert tree.total() == EMPTY
