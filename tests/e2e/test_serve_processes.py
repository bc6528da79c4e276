"""`etl serve --processes N`: N processes behind each push endpoint (or on the worker's
subscription), like concurrent instances, and none left behind when `etl serve` ends.

Which process did the work is read from the `pid` of each JSON log line.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

from tests.e2e.faults import Rig, Served, publish_with_duplicates, simulation, wait_until

SERVICES = ("gate", "gate-north")


def test_two_function_processes_share_the_push_endpoint_and_count_each_event_once(rig: Rig) -> None:
    sim = simulation(limit=300, seed=71, services=SERVICES)
    with rig.served("current", "--processes", "2") as serve:
        publish_with_duplicates(rig.bus, rig.settings.events_topic, sim.events, seed=71)
        rig.wait_settled(sim.events, hourly=False)

    by_process = Counter(r["pid"] for r in serve.records if r.get("message") == "processed")
    assert len(by_process) == 2, f"requests handled per process: {dict(by_process)}"
    assert serve.proc is not None
    assert serve.proc.pid in by_process
    assert len({r["url"] for r in serve.records if r.get("message") == "serving"}) == 1
    rig.assert_exact(sim.events, hourly=False)


def test_two_worker_processes_share_the_subscription_and_count_each_event_once(rig: Rig) -> None:
    sim = simulation(limit=600, seed=72, services=SERVICES)
    args = ("--processes", "2", "--batch-size", "25")
    with rig.served("worker", *args) as serve:
        publish_with_duplicates(rig.bus, rig.settings.events_topic, sim.events, seed=72)
        rig.wait_settled(sim.events, hourly=True)

    stopped = [r for r in serve.records if r.get("message") == "worker stopped"]
    delivered = {r["pid"]: r["counters"].get("deliveries", 0) for r in stopped}
    assert len(delivered) == 2, delivered
    assert all(delivered.values()), delivered
    rig.assert_exact(sim.events, hourly=True)


def test_instances_stop_when_serve_is_killed(rig: Rig) -> None:
    serve = Served(rig.settings, "current", rig.logs, ("--processes", "3")).start()
    with contextlib.ExitStack() as stack:
        stack.callback(serve.stop)
        instances = {r["pid"] for r in serve.records if r.get("message") == "instance ready"}
        assert len(instances) == 2
        assert all(alive(pid) for pid in instances)
        serve.kill()  # SIGKILL: nothing of etl serve's shutdown runs
        wait_until(lambda: not any(alive(pid) for pid in instances), 30, "the instances to stop")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for whoever adopted it to reap it has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
