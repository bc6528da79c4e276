"""Run Google's published samples, unchanged, against our emulators and Google's; print the
tests that pass on both, only on ours, only on Google's, on neither.

The samples are python-pubsub's `samples/snippets` and python-bigtable's `samples/` (each folder
holding `*_test.py`, run from that folder as their noxfiles do). They come from GitHub, which CI
cannot reach, so this runs by hand (docs/emulators/samples.md); the acceptance line of issue 23 is
its exit status: 1 when a test passes against Google's emulators and fails against ours.

The samples run in an interpreter of their own (`--python`: a venv holding their requirements and
pytest-timeout), with the emulator hosts, a project and an instance in the environment. Nothing
reaches Google Cloud: the tests that would (IAM, BigQuery, Cloud Storage, instance admin) find no
credentials, the metadata server points at a closed local port, and any other HTTP(S) or gRPC
traffic goes to a dead local proxy; they fail on both pairs, as they should.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from etl_harness.emulators import native, official
from etl_harness.emulators.pair import EmulatorError, Hosts

REPO = Path(__file__).resolve().parents[2]
PROJECT = "samples-project"
INSTANCE = "samples-instance"
DEAD_PORT = "127.0.0.1:9"
"""The discard port: nothing listens there, so a connection is refused at once."""
PAIRS = ("ours", "google")
TIMEOUT = 300
"""Seconds per test: two samples listen for 90 s and 200 s before they check what came."""
GROUPS = (
    ("passes on both", (True, True)),
    ("passes only on ours", (True, False)),
    ("passes only on Google's", (False, True)),
    ("passes on neither", (False, False)),
)


@dataclass(frozen=True, slots=True)
class Suite:
    """One folder of sample tests, run by pytest from inside it."""

    name: str
    folder: Path


def suites(pubsub: Path | None, bigtable: Path | None) -> list[Suite]:
    """pubsub's snippets folder as one suite; each bigtable folder that holds tests as one
    (`snap_*_test.py` are the snapshot tests' expected outputs, not tests)."""
    found = [Suite("pubsub", pubsub)] if pubsub else []
    if bigtable:
        tests = [*bigtable.rglob("*_test.py"), *bigtable.rglob("test_*.py")]
        folders = sorted({test.parent for test in tests if not test.name.startswith("snap_")})
        found += [Suite(f"bigtable/{f.relative_to(bigtable)}", f) for f in folders]
    return found


def sample_env(hosts: Hosts, home: Path) -> dict[str, str]:
    """The environment the samples run in: the emulators, a project, no way out of the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "CLOUDSDK_"))}
    env |= hosts.env()
    env |= {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "BIGTABLE_INSTANCE": INSTANCE,
        "BIGTABLE_ZONE": "us-central1-b",
        "CLOUDSDK_CONFIG": str(home),  # an empty gcloud config: no user credentials
        "GCE_METADATA_HOST": DEAD_PORT,
        "GCE_METADATA_IP": DEAD_PORT,
        "HTTPS_PROXY": f"http://{DEAD_PORT}",
        "HTTP_PROXY": f"http://{DEAD_PORT}",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        env[name.lower()] = env[name]  # gRPC reads the lower-case names
    return env


def run_suite(python: str, suite: Suite, env: dict[str, str], junit: Path, timeout: int) -> None:
    """pytest on one suite; its outcomes land in `junit` (its exit status says nothing more)."""
    argv = [python, "-m", "pytest", "-p", "no:cacheprovider", f"--timeout={timeout}"]
    argv += ["-q", "-rA", f"--junitxml={junit}", "."]
    print(f"  {suite.name}", file=sys.stderr, flush=True)
    with (junit.with_suffix(".log")).open("wb") as log:
        subprocess.run(argv, cwd=suite.folder, env=env, stdout=log, stderr=subprocess.STDOUT)


def outcomes(suite: Suite, junit: Path) -> dict[str, bool]:
    """Test id -> passed, from pytest's junit xml (no file: the run crashed, nothing passed)."""
    if not junit.is_file():
        return {f"{suite.name}::<no report>": False}
    found: dict[str, bool] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        test_id = f"{suite.name}::{case.get('classname', '')}::{case.get('name', '')}"
        failed = any(case.find(tag) is not None for tag in ("failure", "error", "skipped"))
        found[test_id] = not failed
    return found


@contextlib.contextmanager
def pair(which: str, log_dir: Path) -> Iterator[Hosts]:
    """Our native pair (from emulators/bin) or Google's (from the Cloud SDK), empty."""
    if which == "ours":
        launch = native.Launch(bin_dir=native.find_bin_dir(start=REPO))
        with native.running_pair(launch, log_dir) as running:
            yield Hosts.of(running, "native")
    else:
        with official.running_pair(official.find_sdk(), log_dir) as running:
            yield Hosts.of(running, "official")


def run_pair(which: str, args: argparse.Namespace, work: Path) -> dict[str, bool]:
    """Every suite against a fresh pair of `which`; test id -> passed."""
    print(f"{which}:", file=sys.stderr, flush=True)
    results: dict[str, bool] = {}
    out = work / which
    (out / "gcloud").mkdir(parents=True, exist_ok=True)
    for suite in suites(args.pubsub, args.bigtable):
        with pair(which, out / "logs") as hosts:
            junit = out / f"{suite.name.replace('/', '-')}.xml"
            run_suite(args.python, suite, sample_env(hosts, out / "gcloud"), junit, args.timeout)
        results |= outcomes(suite, junit)
    return results


def grouped(ours: dict[str, bool], google: dict[str, bool]) -> dict[tuple[bool, bool], list[str]]:
    """(passed on ours, passed on Google's) -> the tests, sorted; a test one run lacks failed."""
    groups: dict[tuple[bool, bool], list[str]] = {key: [] for _, key in GROUPS}
    for test in sorted(ours.keys() | google.keys()):
        groups[ours.get(test, False), google.get(test, False)].append(test)
    return groups


def table(groups: dict[tuple[bool, bool], list[str]], verbose: bool) -> str:
    """The four groups with their counts and, but for "both" unless `verbose`, their tests."""
    lines = [f"{'':<26}{'tests':>6}"]
    for title, key in GROUPS:
        lines.append(f"{title:<26}{len(groups[key]):>6}")
        if key != (True, True) or verbose:
            lines += [f"    {test}" for test in groups[key]]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pubsub", type=Path, help="python-pubsub's samples/snippets folder")
    parser.add_argument("--bigtable", type=Path, help="python-bigtable's samples folder")
    parser.add_argument("--python", default=sys.executable, help="the samples' interpreter")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds per test")
    parser.add_argument("--work", type=Path, help="keep reports and logs here (default: temp)")
    parser.add_argument("--verbose", action="store_true", help="list the tests passing on both")
    args = parser.parse_args(argv)
    if args.pubsub is None and args.bigtable is None:
        parser.error("give --pubsub and/or --bigtable")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the emulators on the way out
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        try:
            ours, google = (run_pair(which, args, work) for which in PAIRS)
        except EmulatorError as err:
            print(f"run_google_samples: {err}", file=sys.stderr)
            return 2
    groups = grouped(ours, google)
    print(table(groups, args.verbose))
    return 1 if groups[False, True] else 0


if __name__ == "__main__":
    sys.exit(main())
