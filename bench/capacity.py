"""The capacity model of `docs/deployment/capacity.md`, as arithmetic a test can check.

Inputs are either counted in the code (the worker's Bigtable operations per event and per batch)
or cited (Google's per-node figures); the race window comes from a contention run
(`bench/contention.py --out FILE`). The page says where each one comes from.

    python bench/capacity.py [--contention FILE] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SSD_WRITES_PER_NODE = 14_000
"""Rows written per second by one SSD node, 1 KB rows (Bigtable's "Understand performance")."""
SSD_READS_PER_NODE = 17_000
"""Rows read per second by one SSD node, 1 KB rows (same page)."""
LATENCY_HEADROOM = 2.0
"""Capacity planned per unit of load for latency-sensitive use (same page: 2x, under 50 % CPU)."""
SUMMARY_ROWS = 2
"""Summary rows the worker commits per site of a batch (occupancy, hourly counts)."""
EVENT_ROW_WRITES = 2
"""Row writes per event: the event row, then the occupancy snapshot on it (the original
design's `realTimeStatus` cells, `EventTable.write_snapshots`)."""


def sites_per_batch(sites: int, batch: int) -> float:
    """Expected distinct sites among `batch` events spread evenly over `sites` sites."""
    if sites < 1 or batch < 1:
        raise ValueError(f"sites and batch must be >= 1, not {sites} and {batch}")
    return sites * (1 - (1 - 1 / sites) ** batch)


@dataclass(frozen=True, slots=True)
class PerEvent:
    """Bigtable rows written and read per event by the worker at full batches."""

    writes: float
    reads: float


def per_event(sites: int, batch: int) -> PerEvent:
    """Each event: its row and its snapshot. Each batch: one ReadRows and one CheckAndMutate
    per summary row of every site in it (the counters' one increment a second is left out)."""
    touched = SUMMARY_ROWS * sites_per_batch(sites, batch) / batch
    return PerEvent(writes=EVENT_ROW_WRITES + touched, reads=touched)


def bigtable_nodes(events_per_s: float, sites: int, batch: int, headroom: float = 1.0) -> int:
    """SSD nodes for the worker's load, reads and writes sharing each node's capacity pro rata."""
    load = per_event(sites, batch)
    busy = events_per_s * (load.writes / SSD_WRITES_PER_NODE + load.reads / SSD_READS_PER_NODE)
    return max(1, math.ceil(busy * headroom - 1e-9))


def race_window_s(races_per_commit: float, workers: int, commits_per_row_s: float) -> float:
    """The read-to-commit window implied by a measured race rate.

    A commit attempt loses when another writer commits the row inside its window w; with the
    other writers committing at rate r (Poisson), an attempt loses with p = 1 - exp(-r w).
    Per winning commit there are L lost attempts, so p = L / (L + 1)."""
    others = commits_per_row_s * (workers - 1) / workers
    if workers < 2 or races_per_commit <= 0 or others <= 0:
        raise ValueError("a window needs two writers or more that lost at least one race")
    lost = races_per_commit / (races_per_commit + 1)
    return -math.log(1 - lost) / others


def row_ceiling(window_s: float, races_per_commit: float = 1.0) -> float:
    """Commits per second one row takes before each winning commit costs `races_per_commit`
    lost attempts (1.0: half the attempts lost), for a race window `window_s`."""
    lost = races_per_commit / (races_per_commit + 1)
    return -math.log(1 - lost) / window_s


def row_commits_per_s(instances: int, batches_per_s: float, sites: int, batch: int) -> float:
    """Commits per second each summary row of a site takes from `instances` workers, each
    handling `batches_per_s` full batches spread over every site."""
    return instances * batches_per_s * sites_per_batch(sites, batch) / sites


def max_instances(ceiling: float, batches_per_s: float, sites: int, batch: int) -> int:
    """The most worker instances whose commits keep every summary row under `ceiling`."""
    return max(1, math.floor(ceiling / row_commits_per_s(1, batches_per_s, sites, batch)))


def window_from(contention: dict[str, Any]) -> float:
    """The median race window over the cells of a contention run that lost races."""
    windows = sorted(
        race_window_s(c["races_per_commit"], c["workers"], c["commits_per_row_s"])
        for c in contention["cells"]
        if c["workers"] > 1 and c["lost_races"] > 0
    )
    if not windows:
        raise ValueError("no cell of that run lost a race: no window to derive")
    return windows[len(windows) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contention", type=Path, help="JSON of bench/contention.py --out")
    parser.add_argument("--batch", type=int, default=500, help="the worker's batch size")
    parser.add_argument("--instance-rate", type=float, default=2000.0, help="events/s per worker")
    args = parser.parse_args()
    print("| events/s | sites | writes/event | reads/event | SSD nodes | nodes, 2x headroom |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for rate in (10_000, 100_000, 1_000_000):
        for sites in (30, 10_000):
            load = per_event(sites, args.batch)
            print(
                f"| {rate:,} | {sites:,} | {load.writes:.2f} | {load.reads:.2f} | "
                f"{bigtable_nodes(rate, sites, args.batch):,} | "
                f"{bigtable_nodes(rate, sites, args.batch, LATENCY_HEADROOM):,} |"
            )
    if args.contention:
        window = window_from(json.loads(args.contention.read_text()))
        ceiling = row_ceiling(window)
        batches = args.instance_rate / args.batch
        print(f"\nrace window {window * 1000:.1f} ms: one row takes {ceiling:.0f} commits/s")
        print("at one lost race per commit; instances under that ceiling:", file=sys.stdout)
        for sites in (1, 30, 1_000, 10_000):
            n = max_instances(ceiling, batches, sites, args.batch)
            print(f"  {sites:>6,} sites: {n:,} instances ({n * args.instance_rate:,.0f} events/s)")


if __name__ == "__main__":
    main()
