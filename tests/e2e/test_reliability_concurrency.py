"""Concurrency: four worker processes on one subscription, and concurrent function instances.

Few services, so many writers refresh the same status row at once: only the ledger's
CheckAndMutate on `version` keeps them from overwriting each other's occupancy.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.e2e.faults import (
    PushProxy,
    Rig,
    Served,
    base_url,
    point_push,
    publish_with_duplicates,
    push_targets,
    simulation,
)

SERVICES = ("gate", "gate-north")


def test_four_worker_processes_on_one_subscription_store_and_count_each_event_once(
    rig: Rig,
) -> None:
    sim = simulation(limit=1500, seed=61, services=SERVICES)
    workers = [
        Served(rig.settings, "worker", rig.logs, ("--batch-size", "40"), name=f"-{i}")
        for i in range(4)
    ]
    with contextlib.ExitStack() as stack:
        for worker in workers:
            worker.start()
            stack.callback(worker.stop)
        publish_with_duplicates(rig.bus, rig.settings.events_topic, sim.events, seed=61)
        rig.wait_settled(sim.events, hourly=True)

    busy = [w for w in workers if _deliveries(w) > 0]
    assert len(busy) >= 3, "the work was shared between processes"
    rig.assert_exact(sim.events, hourly=True)


def _deliveries(worker: Served) -> int:
    stopped = [r for r in worker.records if r.get("message") == "worker stopped"]
    return int(stopped[-1]["counters"].get("deliveries", 0)) if stopped else 0


@pytest.mark.parametrize("pipeline", ["current", "fanout"])
def test_concurrent_function_instances_store_and_count_each_event_once(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=240, seed=62, services=SERVICES)
    targets = push_targets(rig.settings, pipeline)
    instances = [Served(rig.settings, pipeline, rig.logs, name=f"-{i}") for i in range(2)]
    with contextlib.ExitStack() as stack:
        for instance in instances:
            instance.start()
            stack.callback(instance.stop)
        fronts = {}
        for fn, subscription, topic in targets:  # a load balancer in front of both instances
            fronts[fn] = PushProxy([base_url(i, fn) for i in instances])
            stack.callback(fronts[fn].close)
            point_push(rig.bus, rig.settings, subscription, topic, fronts[fn].url)
        publish_with_duplicates(rig.bus, rig.settings.events_topic, sim.events, seed=62)
        rig.wait_settled(sim.events, hourly=pipeline == "fanout")

    for front in fronts.values():
        assert all(n > 0 for n in front.per_target.values())
        assert len(front.per_target) == 2
    rig.assert_exact(sim.events, hourly=pipeline == "fanout")
