"""SingleFlight: concurrent callers share refreshes, and each gets one that began after it did."""

from __future__ import annotations

import threading
import time

from etl.service.singleflight import SingleFlight


def test_callers_arriving_during_a_refresh_share_the_next_one() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls: list[float] = []
    arrivals: dict[int, float] = {}
    results: dict[int, int] = {}
    gate = threading.Event()

    def refresh() -> int:
        calls.append(time.monotonic())
        if len(calls) == 1:
            gate.wait(5)
        time.sleep(0.01)
        return len(calls)

    def caller(i: int) -> None:
        arrivals[i] = time.monotonic()
        results[i] = flights.run("gate", refresh)

    first = threading.Thread(target=caller, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=caller, args=(i,)) for i in range(1, 9)]
    for t in others:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert len(calls) == 2, "eight latecomers were served by one more refresh"
    assert results[0] == 1
    assert all(results[i] == 2 for i in range(1, 9))
    assert all(calls[results[i] - 1] >= arrivals[i] for i in results)


def test_a_failed_refresh_lets_a_waiting_caller_run_its_own() -> None:
    flights: SingleFlight[str] = SingleFlight()
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(0.05)
            raise RuntimeError("backend down")
        return "ok"

    errors: list[Exception] = []
    results: list[str] = []

    def call() -> None:
        try:
            results.append(flights.run("gate", flaky))
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    threads[0].start()
    time.sleep(0.01)
    threads[1].start()
    for t in threads:
        t.join(5)
    assert len(errors) == 1
    assert results == ["ok"]


def test_different_keys_do_not_wait_for_each_other() -> None:
    flights: SingleFlight[str] = SingleFlight()
    assert flights.run("a", lambda: "a") == "a"
    assert flights.run("b", lambda: "b") == "b"
