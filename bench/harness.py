"""A clean seeded state: `etl reset --all` against restarting the emulators (what it replaces).

Both are timed from "dirty" (backlog on every subscription, rows in every table, a stray topic)
to "the project holds exactly etl.toml again, ready for the next test".

    python bench/harness.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etl.adapters.bigtable import EventTable  # noqa: E402
from etl.adapters.pubsub import PubSub  # noqa: E402
from etl.config import Settings, from_env  # noqa: E402
from etl.service.simulation import Request, simulate_before  # noqa: E402
from etl_harness import provision  # noqa: E402
from etl_harness.emulators import native as emulators  # noqa: E402
from etl_harness.emulators.pair import KINDS, Hosts, Running  # noqa: E402
from etl_harness.local import from_env as local_from_env  # noqa: E402


def dirty(settings: Settings, messages: int = 500) -> None:
    """Backlog on the events topic's subscriptions, event rows, and a topic etl.toml lacks."""
    sim = simulate_before(datetime.now(UTC), Request(limit=messages, speed_factor=1e9, seed=3))
    bus = PubSub(settings)
    table = EventTable(settings)
    try:
        bus.publish_events(settings.events_topic, sim.events)
        bus.ensure_topic("stray-topic")
        table.write_events(sim.events)
    finally:
        bus.close()
        table.close()


def start_pair(logs: Path, ports: dict[str, int]) -> list[Running]:
    """Both emulators, seeded, on the given ports; exported to this process's clients."""
    launch = replace(
        emulators.launch_for(local_from_env(os.environ)),
        project=emulators.PROJECT,
        admin_port=ports["admin"],
    )
    running = [
        emulators.start(kind, port=ports[kind.name], log_dir=logs, launch=launch) for kind in KINDS
    ]
    os.environ.update(Hosts.of(running, "native").env())
    return running


def settings_now() -> Settings:
    return replace(from_env(os.environ), project=emulators.PROJECT, stage="test")


def measure(rounds: int = 5) -> dict[str, float]:
    """Medians, in ms, of a restart (stop both, start both seeded on the same ports) and of
    `reset_all`, each from a dirty project."""
    restarts, resets = [], []
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        ports = {name: emulators.free_port() for name in ("pubsub", "bigtable", "admin")}
        running = start_pair(logs, ports)
        try:
            for _ in range(rounds):
                dirty(settings_now())
                started = time.perf_counter()
                for r in running:
                    emulators.stop(r)
                running = start_pair(logs, ports)
                restarts.append((time.perf_counter() - started) * 1000)
                dirty(settings_now())
                resets.append(provision.reset_all(settings_now()).seconds * 1000)
        finally:
            for r in running:
                emulators.stop(r)
            os.environ.clear()
            os.environ.update(saved)
    return {
        "reset_all_ms": round(statistics.median(resets), 1),
        "restart_ms": round(statistics.median(restarts), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    figures = measure(parser.parse_args().rounds)
    print(
        f"reset --all {figures['reset_all_ms']} ms, emulator restart {figures['restart_ms']} ms: "
        f"reset is {figures['restart_ms'] / figures['reset_all_ms']:.1f}x faster"
    )


if __name__ == "__main__":
    main()
