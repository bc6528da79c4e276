"""Contention on summary rows: N worker processes on S sites, lost CheckAndMutate races per commit.

Every batch a worker handles ends in one CheckAndMutate per site of the batch and summary
(occupancy, hourly counts) on the row's `version`; a writer that loses the check backs off, reads
the row again and merges again (`etl.service.ledger`). This measures how often that happens.

    python bench/contention.py [--workers 1,2,4] [--sites 1,3,30] [--events 3000]
        [--rate R] [--timeout S] [--out FILE]

Each cell of the grid: a fresh project on the bench's emulators (a private native pair, or the
pair `*_EMULATOR_HOST` names), `etl serve --pipeline worker --processes N`, E simulated events
over S sites published at once (a backlog: full batches, the highest commit rate the workers
reach) or paced at `--rate` events/s (small batches, as at a steady rate in production), until
every event is folded into its site's occupancy and hourly counts, or `--timeout` seconds. The
counts are the pipeline's own counters (`summary_commits`, `lost_races`), which every worker
process adds to the table's counters row as it stops. Exact: each site's stored occupancy, events
folded and hourly entries + exits equal the simulation's.

JSON on stdout (and in `--out`), a table on stderr. `nox -s bench` runs the default grid too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import (  # noqa: E402
    emulators_for_bench,
    fresh_settings,
    opened,
    serving,
    wait_folded,
)
from etl.adapters.bigtable import EventTable  # noqa: E402
from etl.adapters.pubsub import PubSub  # noqa: E402
from etl.service.ledger import current_occupancy, read_hourly  # noqa: E402
from etl.service.simulation import Request, simulate_before  # noqa: E402
from etl_core import Event, Simulation, hourly_key, status_key  # noqa: E402

SUMMARIES_PER_SITE = 2
"""Summary rows the worker commits per site of a batch: occupancy and hourly counts."""
TICK_S = 0.02
"""Paced publishing: one publish call this often."""


@dataclass(frozen=True, slots=True)
class Tally:
    """One cell of the grid as measured: what went in, how long it took, what the counters say."""

    workers: int
    sites: int
    events: int
    seconds: float
    commits: int
    """CheckAndMutates that won: a summary row changed."""
    lost_races: int
    """CheckAndMutates that lost the version check to another writer (each one retried)."""
    exact: bool

    @property
    def races_per_commit(self) -> float:
        """Lost races per winning commit (0 when nothing was committed)."""
        return self.lost_races / self.commits if self.commits else 0.0

    @property
    def commits_per_s(self) -> float:
        return self.commits / self.seconds

    @property
    def commits_per_row_s(self) -> float:
        """Commits per second one summary row took, on average over the site's rows."""
        return self.commits_per_s / (self.sites * SUMMARIES_PER_SITE)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def figures(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "seconds": round(self.seconds, 2),
            "races_per_commit": round(self.races_per_commit, 3),
            "commits_per_s": round(self.commits_per_s, 1),
            "commits_per_row_s": round(self.commits_per_row_s, 2),
            "events_per_s": round(self.events_per_s, 1),
        }


def site_names(sites: int) -> tuple[str, ...]:
    if sites < 1:
        raise ValueError(f"at least one site, not {sites}")
    return tuple(f"site-{i:03d}" for i in range(sites))


def chunks(events: Sequence[Event], rate: float, tick: float = TICK_S) -> list[Sequence[Event]]:
    """`events` cut into what one publish call every `tick` seconds sends at `rate` events/s;
    all at once when `rate` is 0 or less."""
    if rate <= 0:
        return [events] if events else []
    size = max(1, math.ceil(rate * tick))
    return [events[i : i + size] for i in range(0, len(events), size)]


def publish(bus: PubSub, topic: str, events: Sequence[Event], rate: float) -> None:
    """Publish `events` at `rate` events/s (0: all at once), each chunk on its own schedule."""
    parts = chunks(events, rate)
    begin = time.perf_counter()
    for i, part in enumerate(parts):
        delay = begin + i * len(parts[0]) / rate - time.perf_counter() if rate > 0 else 0
        if delay > 0:
            time.sleep(delay)
        bus.publish_events(topic, part)


def is_exact(table: EventTable, sim: Simulation) -> bool:
    """Every site's occupancy and events folded equal the simulation's, and its hourly counts
    hold every event once."""
    expected = Counter(event.service for event in sim.events)
    rows = table.read_statuses([status_key(site) for site in sim.ground_truth])
    stored = {site: current_occupancy(rows[status_key(site)]) for site in sim.ground_truth}
    hourly = table.read_statuses([hourly_key(site) for site in sim.ground_truth])
    counted = {
        site: sum(c.entries + c.exits for c in read_hourly(hourly[hourly_key(site)]).values())
        for site in sim.ground_truth
    }
    return all(
        stored[site].value == truth
        and stored[site].events == expected[site]
        and counted[site] == expected[site]
        for site, truth in sim.ground_truth.items()
    )


def measure(workers: int, sites: int, events: int, rate: float, timeout: float) -> Tally:
    """One cell: `workers` worker processes, `events` over `sites` sites (see the module doc)."""
    settings = fresh_settings()
    request = Request(limit=events, speed_factor=1e9, seed=11, services=site_names(sites))
    sim = simulate_before(datetime.now(UTC), request)
    with opened(settings) as (table, bus):
        with serving(settings, "worker", workers):
            begin = time.perf_counter()
            publish(bus, settings.events_topic, sim.events, rate)
            try:
                wait_folded(table, sim, hourly=True, timeout=timeout)
                folded = True
            except TimeoutError:
                folded = False
            seconds = time.perf_counter() - begin
        counters = table.read_counters()  # every process flushed its counts as it stopped
        exact = folded and is_exact(table, sim)
    return Tally(
        workers=workers,
        sites=sites,
        events=len(sim.events),
        seconds=seconds,
        commits=counters.get("summary_commits", 0),
        lost_races=counters.get("lost_races", 0),
        exact=exact,
    )


def grid(args: argparse.Namespace) -> list[Tally]:
    cells = []
    for sites in _ints(args.sites):
        for workers in _ints(args.workers):
            print(f"… {workers} worker(s) on {sites} site(s)", file=sys.stderr, flush=True)
            cells.append(measure(workers, sites, args.events, args.rate, args.timeout))
    return cells


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def print_table(cells: Sequence[Tally]) -> None:
    print(
        f"{'workers':>7} {'sites':>5} {'events/s':>9} {'commits/s':>9} {'per row/s':>9} "
        f"{'lost/commit':>11}  exact",
        file=sys.stderr,
    )
    for c in cells:
        print(
            f"{c.workers:7} {c.sites:5} {c.events_per_s:9.0f} {c.commits_per_s:9.1f} "
            f"{c.commits_per_row_s:9.2f} {c.races_per_commit:11.3f}  {c.exact}",
            file=sys.stderr,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts (comma list)")
    parser.add_argument("--sites", default="1,3,30", help="site counts (comma list)")
    parser.add_argument("--events", type=int, default=3000, help="events per cell")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="offered events/s (0: publish all at once)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per cell at most")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    with emulators_for_bench():
        cells = grid(args)
    result = {
        "events": args.events,
        "rate": args.rate,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cells": [c.figures() for c in cells],
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print_table(cells)
    return 0 if all(c.exact for c in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
