"""The inspector's ring buffers and the rates derived from them, without emulators."""

from __future__ import annotations

from itertools import accumulate, pairwise

from hypothesis import given
from hypothesis import strategies as st

from etl_harness.inspector.history import History, Point, Sample, new_messages, rates

times = st.lists(st.floats(0, 10, allow_nan=False), max_size=40).map(
    lambda gaps: list(accumulate(gaps))
)
counters = st.lists(st.integers(-1000, 1000), max_size=40)


@given(at=times, values=counters)
def test_rates_are_never_negative_and_come_at_increasing_times_whatever_the_counter_does(
    at: list[float], values: list[int]
) -> None:
    points = [Point(t, v) for t, v in zip(at, values, strict=False)]
    derived = rates(points)
    assert all(r.value >= 0 for r in derived)
    assert [r.at for r in derived] == sorted({r.at for r in derived})
    assert len(derived) <= max(0, len(points) - 1)


@given(gaps=st.lists(st.floats(0.01, 10), min_size=1, max_size=30), data=st.data())
def test_a_growing_counters_rates_add_up_to_its_growth(
    gaps: list[float], data: st.DataObject
) -> None:
    steps = data.draw(st.lists(st.integers(0, 500), min_size=len(gaps), max_size=len(gaps)))
    at, values = [0.0, *accumulate(gaps)], [0, *accumulate(steps)]
    points = [Point(t, v) for t, v in zip(at, values, strict=True)]
    derived = rates(points)
    assert len(derived) == len(gaps)
    growth = sum(r.value * gap for r, gap in zip(derived, gaps, strict=True))
    assert abs(growth - values[-1]) <= 1e-6 * max(1, values[-1])


def test_no_rate_for_the_first_sample_a_reset_or_no_time_elapsed() -> None:
    assert rates([]) == []
    assert rates([Point(1, 5)]) == []
    assert rates([Point(1, 5), Point(2, 2), Point(2, 9), Point(4, 13)]) == [Point(4, 2.0)]


@given(
    before=st.integers(0, 3),
    batches=st.lists(
        st.lists(st.sampled_from(["events-test", "written-test"]), max_size=20), max_size=10
    ),
)
def test_counting_the_log_at_each_look_finds_every_message_published_between_looks(
    before: int, batches: list[list[str]]
) -> None:
    log = [(str(i + 1), "events-test") for i in range(before)]  # before the first look
    counts, cursor = new_messages(log, None)
    assert counts == {}
    seen: dict[str, int] = {}
    for batch in batches:
        log += [(str(len(log) + 1 + i), topic) for i, topic in enumerate(batch)]
        counts, cursor = new_messages(reversed(log[-1000:]), cursor)  # newest first, as served
        for topic, count in counts.items():
            seen[topic] = seen.get(topic, 0) + count
    published = [topic for batch in batches for topic in batch]
    assert seen == {t: published.count(t) for t in set(published)}
    assert cursor == len(log)


def test_ids_starting_again_count_nothing_and_undecimal_ids_are_skipped() -> None:
    assert new_messages([("3", "t"), ("2", "t")], after=10) == ({}, 3)  # emulator restarted
    assert new_messages([("m7", "t"), ("12", "t")], after=10) == ({"t": 1}, 12)
    assert new_messages([], after=10) == ({}, 10)
    assert new_messages([], after=None) == ({}, 0)


def test_after_a_first_look_at_an_empty_log_every_message_counts() -> None:
    _, cursor = new_messages([], None)
    assert new_messages([("8", "t"), ("3", "t")], cursor) == ({"t": 2}, 8)


@given(
    polls=st.lists(st.floats(0, 3, allow_nan=False), max_size=60),
    max_samples=st.integers(1, 8),
)
def test_each_series_keeps_the_latest_samples_in_order_at_most_max_samples_and_spaced(
    polls: list[float], max_samples: int
) -> None:
    history = History(max_samples=max_samples, min_interval=0.5)
    kept = []
    for i, now in enumerate(accumulate(polls)):
        if history.record(now, {"worker-test": ("events-test", i)}, []):
            kept.append(Sample(now, i, 0))
    samples = history.series().get("worker-test", [])
    assert samples == kept[-max_samples:]
    assert all(b.at - a.at >= 0.5 for a, b in pairwise(samples))


def test_samples_count_the_topics_messages_and_forget_subscriptions_that_are_gone() -> None:
    history = History(min_interval=1)
    both = {"worker-test": ("events-test", 0), "reader-test": ("dead-test", 0)}
    assert history.record(0, both, [("5", "events-test")])
    assert not history.record(0.5, both, [("6", "events-test")])  # not due: nothing read
    log = [("8", "events-test"), ("7", "dead-test"), ("6", "events-test"), ("5", "events-test")]
    assert history.record(1, {"worker-test": ("events-test", 2)}, log)
    assert history.series() == {"worker-test": [Sample(0, 0, 0), Sample(1, 2, 2)]}
    assert history.series()["worker-test"][-1].left == 0
    assert history.due(2)
    assert not history.due(1.5)
