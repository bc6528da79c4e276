"""Counters reach the table at most about once a second, and a failed flush loses nothing."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from etl.service.counters import Counters


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.flushed: list[dict[str, int]] = []
        self.fail = fail

    def __call__(self, counts: Mapping[str, int]) -> None:
        if self.fail:
            raise ConnectionError("table unavailable")
        self.flushed.append(dict(counts))


def test_counts_within_the_interval_wait_for_one_flush() -> None:
    counters, sink = Counters(interval=3600), Sink()
    counters.add("deliveries", 2)
    counters.flush(sink)
    counters.add("deliveries")
    counters.flush(sink)
    assert sink.flushed == []
    counters.flush(sink, force=True)
    assert sink.flushed == [{"deliveries": 3}]
    assert counters["deliveries"] == 3


def test_a_flush_after_the_interval_sends_what_accumulated() -> None:
    counters, sink = Counters(interval=0), Sink()
    counters.add("deliveries")
    counters.add("retries", 0)  # nothing to count: not sent
    counters.flush(sink)
    assert sink.flushed == [{"deliveries": 1}]
    counters.flush(sink)
    assert sink.flushed == [{"deliveries": 1}], "nothing new, nothing sent"


def test_a_failed_flush_keeps_the_counts_for_the_next_one() -> None:
    counters = Counters(interval=0)
    counters.add("deliveries", 5)
    with pytest.raises(ConnectionError):
        counters.flush(Sink(fail=True))
    counters.add("deliveries")
    sink = Sink()
    counters.flush(sink)
    assert sink.flushed == [{"deliveries": 6}]
    assert counters.get("missing") == 0
