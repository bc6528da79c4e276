"""Our emulators and Google's side by side, in one run, through the official Python clients.

Each pair runs alone (ours first, then Google's: the Cloud SDK's Java Pub/Sub emulator and
cbtemulator), on free ports, and is stopped before the next starts. For each:

- start → ready, ms: from starting the process until a real RPC answers (the launchers' own
  readiness check, polling after 5, 10, 20, 40 ms, then every 100 ms); ours are seeded with
  etl.toml before they answer, Google's take no seed;
- resident memory of the Pub/Sub emulator (RSS summed over its process tree) once ready; then a
  small untimed warm-up (`warm_up`), so that neither pair pays the clients' first-use costs;
- Pub/Sub batched publish, then synchronous pull/ack 1,000 at a time, msgs/s
  (`ceilings.pubsub_sync_pull`);
- streaming pull (`subscribe()`) running while the messages are published, msgs/s
  (`ceilings.pubsub_streaming`);
- push: a push subscription to a local HTTP endpoint answering 204 (`bench/push_endpoint.py`),
  from the first publish until every message id has arrived, msgs/s;
- Bigtable bulk MutateRows through the data API, rows/s (`ceilings.bigtable_data_api_rows`);
- the Pub/Sub emulator's RSS before a soak of M messages published, pulled and acked as above,
  and after each of its four rounds (each on a topic and subscription deleted afterwards; the
  soak's rate is kept too): flat rounds mean acknowledged messages are released.

Google's emulators are found as `--etl-emulators=official` finds them (`ETL_GCLOUD_SDK_ROOT`,
else `gcloud info`); without them the comparison is skipped with the reason. `nox -s bench` runs
it after the rest (key `emulators_side_by_side` of bench-results.json).

    python bench/side_by_side.py [--messages N] [--soak M] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ceilings, push_endpoint  # noqa: E402
from etl_harness.emulators import native, official, pair  # noqa: E402
from etl_harness.emulators.pair import EmulatorError, Hosts, Kind, Running  # noqa: E402
from etl_harness.local import Local  # noqa: E402
from etl_harness.local import from_env as local_from_env  # noqa: E402

T = TypeVar("T")
HOST = "127.0.0.1"
MB = 1024 * 1024
PUSH_TIMEOUT = 60.0
MESSAGES = 10_000
SOAK = 100_000
SOAK_ROUNDS = 4
WARM_UP = 1_000
EVEN = 1.1
"""Figures within 10 % of each other are printed as even: the machine's noise is larger."""
Starter = Callable[[Kind, Path], Running]


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each measure sends: `messages` for every rate, `soak` for the memory soak."""

    messages: int = MESSAGES
    soak: int = SOAK


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and all its descendants (a wrapper script and its JVM count as
    one emulator); a descendant that exits while being read counts for nothing."""
    root = psutil.Process(pid)
    total = int(root.memory_info().rss)
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total


def ours(local: Local) -> Starter:
    """Starts one of our native emulators, seeded with the etl.toml `local` finds."""
    launch = native.launch_for(local)

    def start(kind: Kind, log_dir: Path) -> Running:
        return native.start(
            kind, host=HOST, port=native.free_port(HOST), log_dir=log_dir, launch=launch
        )

    return start


def googles(sdk: official.Sdk) -> Starter:
    """Starts one of the Cloud SDK's emulators."""

    def start(kind: Kind, log_dir: Path) -> Running:
        return official.start(sdk, kind, host=HOST, port=native.free_port(HOST), log_dir=log_dir)

    return start


@contextlib.contextmanager
def exported(env: Mapping[str, str]) -> Iterator[None]:
    """The emulator hosts in this process's environment (the official clients read them only
    there) for the block; the environment as it was afterwards."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def push_rate(messages: int) -> tuple[float, int]:
    """Msgs/s from the first publish until every message reached a local endpoint through a push
    subscription (or `PUSH_TIMEOUT` passed), and how many distinct messages arrived."""
    with push_endpoint.serving(messages) as endpoint:
        publisher, subscriber, topic, sub = ceilings.fresh_topic(
            "push", push_config={"push_endpoint": endpoint.url}
        )
        try:
            begin = time.perf_counter()
            for future in [publisher.publish(topic, ceilings.PAYLOAD) for _ in range(messages)]:
                future.result()
            endpoint.done.wait(PUSH_TIMEOUT)
            elapsed = time.perf_counter() - begin
            received = endpoint.received
        finally:
            subscriber.delete_subscription(subscription=sub)  # before the endpoint goes away
            publisher.delete_topic(topic=topic)
            publisher.stop()
            subscriber.close()
    return received / elapsed, received


def step(label: str, fn: Callable[[], T]) -> T:
    print(f"… {label}", file=sys.stderr, flush=True)
    return fn()


def measure(name: str, start: Starter, sizes: Sizes, log_dir: Path) -> dict[str, Any]:
    """Start one pair (each start timed), run every measure against it, stop it."""
    running: dict[str, Running] = {}
    start_ms: dict[str, float] = {}
    try:
        for kind in pair.KINDS:
            print(f"… {name}: start {kind.name}", file=sys.stderr, flush=True)
            begin = time.perf_counter()
            running[kind.name] = start(kind, log_dir)
            start_ms[kind.name] = round((time.perf_counter() - begin) * 1000, 1)
        with exported(Hosts.of(running, name).env()):
            return {"start_ms": start_ms, **rates(name, sizes, running[pair.PUBSUB.name].pid)}
    finally:
        for r in running.values():
            native.stop(r)


def warm_up() -> None:
    """A small untimed publish + pull/ack and MutateRows: the clients' first-use costs (imports,
    channels) fall on neither pair's figures, and each emulator's first requests go unmeasured."""
    ceilings.pubsub_sync_pull(WARM_UP)
    ceilings.bigtable_data_api_rows(WARM_UP)


def rates(name: str, sizes: Sizes, pubsub_pid: int) -> dict[str, Any]:
    """Every measure against the emulators the environment names (see the module doc)."""
    n = sizes.messages
    idle = tree_rss(pubsub_pid)
    step(f"{name}: warm-up", warm_up)
    sync = step(f"{name}: publish + pull/ack", lambda: ceilings.pubsub_sync_pull(n))
    streaming = step(f"{name}: streaming pull", lambda: ceilings.pubsub_streaming(n))
    push, delivered = step(f"{name}: push", lambda: push_rate(n))
    rows = step(f"{name}: Bigtable MutateRows", lambda: ceilings.bigtable_data_api_rows(n))
    before = tree_rss(pubsub_pid)
    soak, rounds = step(
        f"{name}: soak of {sizes.soak:,}", lambda: soak_rounds(sizes.soak, pubsub_pid)
    )
    after = rounds[-1]
    return {
        "publish_pull_ack_msgs_per_s": round(sync),
        "streaming_pull_msgs_per_s": round(streaming),
        "push_msgs_per_s": round(push),
        "push_delivered": delivered,
        "bigtable_mutate_rows_per_s": round(rows),
        "soak_msgs_per_s": round(soak),
        "pubsub_rss_mb": {
            "idle": round(idle / MB, 1),
            "before_soak": round(before / MB, 1),
            "after_soak": round(after / MB, 1),
            "after_each_soak_round": [round(r / MB, 1) for r in rounds],
        },
    }


def soak_rounds(messages: int, pubsub_pid: int) -> tuple[float, list[int]]:
    """`messages` published, pulled and acked in `SOAK_ROUNDS` equal rounds: msgs/s over all of
    them, and the emulator's RSS after each round (flat when acked messages are released)."""
    per_round = max(1, messages // SOAK_ROUNDS)
    rss, seconds = [], 0.0
    for _ in range(SOAK_ROUNDS):
        seconds += per_round / ceilings.pubsub_sync_pull(per_round)
        rss.append(tree_rss(pubsub_pid))
    return per_round * SOAK_ROUNDS / seconds, rss


def compare(local: Local, sizes: Sizes) -> dict[str, Any]:
    """Both pairs, one after the other; an `EmulatorError` when either cannot be started."""
    sdk = official.find_sdk(local.gcloud_sdk_root)  # before anything starts: fail fast
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        results = {
            "ours": measure("ours", ours(local), sizes, Path(tmp)),
            "google": measure("google", googles(sdk), sizes, Path(tmp)),
        }
    return {
        **results,
        "messages": sizes.messages,
        "soak_messages": sizes.soak,
        "cores": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }


def for_bench(local: Local, sizes: Sizes) -> dict[str, Any]:
    """`compare`, or `{"skipped": reason}` (printed) when a pair cannot be started."""
    try:
        return compare(local, sizes)
    except EmulatorError as exc:
        print(f"emulators side by side skipped: {exc}", file=sys.stderr)
        return {"skipped": str(exc)}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a figure of each pair, whether more is better, and the difference
    below which the figures cannot be told apart (the launchers' readiness poll)."""

    label: str
    figure: Callable[[dict[str, Any]], float]
    more_is_better: bool
    resolution: float = 0.0

    def verdict(self, ours_: float, google: float) -> str:
        if abs(ours_ - google) <= self.resolution:
            return f"within one {self.resolution:.0f} ms readiness poll"
        if not ours_ or not google:
            return ""
        ratio = max(ours_, google) / min(ours_, google)
        if ratio < EVEN:
            return "about even"
        ours_better = (ours_ > google) == self.more_is_better
        return f"{'ours' if ours_better else 'Google'} {ratio:.1f}x better"


READY_POLL_MS = 20.0
"""`native.wait_ready` retries its RPC after 5, 10, 20, 40 ms, then every 100 ms: a start within
35 ms is known to 20 ms (a slower one only to the gap between its last two probes)."""

ROWS = (
    Row("start → ready, Pub/Sub (ms)", lambda r: r["start_ms"]["pubsub"], False, READY_POLL_MS),
    Row("start → ready, Bigtable (ms)", lambda r: r["start_ms"]["bigtable"], False, READY_POLL_MS),
    Row("publish + sync pull/ack (msgs/s)", lambda r: r["publish_pull_ack_msgs_per_s"], True),
    Row("streaming pull, subscribe() (msgs/s)", lambda r: r["streaming_pull_msgs_per_s"], True),
    Row("push to a local endpoint (msgs/s)", lambda r: r["push_msgs_per_s"], True),
    Row("Bigtable MutateRows, data API (rows/s)", lambda r: r["bigtable_mutate_rows_per_s"], True),
    Row("soak: publish + sync pull/ack (msgs/s)", lambda r: r["soak_msgs_per_s"], True),
    Row("Pub/Sub RSS idle (MB)", lambda r: r["pubsub_rss_mb"]["idle"], False),
    Row("Pub/Sub RSS before soak (MB)", lambda r: r["pubsub_rss_mb"]["before_soak"], False),
    Row(
        "Pub/Sub RSS after soak round 1 (MB)",
        lambda r: r["pubsub_rss_mb"]["after_each_soak_round"][0],
        False,
    ),
    Row("Pub/Sub RSS after the soak (MB)", lambda r: r["pubsub_rss_mb"]["after_soak"], False),
)


def print_table(results: dict[str, Any]) -> None:
    if "skipped" in results:
        print(f"emulators side by side: skipped ({results['skipped']})")
        return
    ours_, google = results["ours"], results["google"]
    print(
        f"emulators side by side: {results['messages']:,} messages a measure, soak of "
        f"{results['soak_messages']:,}; load average {_load(results['load_average']['before'])} "
        f"before, {_load(results['load_average']['after'])} after ({results['cores']} cores)"
    )
    print(f"{'measure':40} {'ours':>10} {'Google':>10}  ratio")
    for row in ROWS:
        a, b = row.figure(ours_), row.figure(google)
        print(f"{row.label:40} {a:10,.0f} {b:10,.0f}  {row.verdict(a, b)}")
    for who, r in (("ours", ours_), ("Google", google)):
        if r["push_delivered"] < results["messages"]:
            print(f"{who}: push delivered {r['push_delivered']:,} in {PUSH_TIMEOUT:.0f} s")


def _load(load: list[float] | tuple[float, ...]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=MESSAGES, help="per rate measure")
    parser.add_argument("--soak", type=int, default=SOAK, help="messages in the soak")
    parser.add_argument("--out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "Connecting to Bigtable emulator", RuntimeWarning)
    try:
        results = compare(local_from_env(os.environ), Sizes(args.messages, args.soak))
    except EmulatorError as exc:
        sys.exit(f"emulators side by side: {exc}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print_table(results)


if __name__ == "__main__":
    main()
