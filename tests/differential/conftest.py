"""Both emulator pairs at once for the differential tests: ours natively (empty: no etl.toml),
Google's from the Cloud SDK (`etl_harness.emulators.official`). Without the SDK the tests skip
with the reason; under `CI=true` they fail instead, as the plugin's fixtures do.

The budget (`budget()`): `ETL_DIFFERENTIAL_BUDGET=ci` (the default: derandomized, no example
database, small enough for a loaded 2-core machine) or `explore` (random, many more and longer
sequences, for hunting locally; a failure prints the seed and blob that replay it).

The four emulators' logs go to pytest's temporary directory: `--basetemp DIR` keeps them where
they can be read after a failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from etl_harness.emulators import native, official
from etl_harness.emulators.pair import BIGTABLE, PUBSUB, EmulatorError, Running
from tests.differential.compare import SEEN
from tests.differential.sides import Side, side

BUDGETS = {
    "ci": settings(max_examples=100, stateful_step_count=50, derandomize=True),
    "explore": settings(max_examples=1000, stateful_step_count=100, derandomize=False),
}
"""Examples x steps per machine. `ci` took 39 s (Pub/Sub) and 20 s (Bigtable) on a shared 2-core
machine with another differential run beside it: a few minutes at most on a busier one."""


def budget(environ: Mapping[str, str] = os.environ) -> settings:
    """The chosen budget over what every run shares: no deadline and no timing health check (a
    loaded machine is not a failure), no example database (a run replays from its seed alone)."""
    name = environ.get("ETL_DIFFERENTIAL_BUDGET", "ci")
    if name not in BUDGETS:
        raise pytest.UsageError(
            f"ETL_DIFFERENTIAL_BUDGET={name!r}: choose one of {', '.join(BUDGETS)}"
        )
    return settings(
        BUDGETS[name],
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# The data client's built-in metrics log a warning per call against an emulator (it sends no
# response metadata): noise that would bury a failure's report.
logging.getLogger("google.cloud.bigtable.data._metrics").setLevel(logging.ERROR)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How often each known difference was met, so a run shows what it normalised."""
    if SEEN:
        terminalreporter.write_sep("-", "known differences met (tests/differential/known.py)")
        for name, count in sorted(SEEN.items()):
            terminalreporter.write_line(f"{count:6d}  {name}")


def _by_name(running: list[Running]) -> dict[str, str]:
    return {r.name: r.address for r in running}


@pytest.fixture(scope="session")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    """(ours, Google's): both pairs running, empty, each with its clients."""
    logs: Path = tmp_path_factory.mktemp("differential-logs")
    try:
        sdk = official.find_sdk(os.environ.get("ETL_GCLOUD_SDK_ROOT"))
    except EmulatorError as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"Google's emulators are needed: {exc}", pytrace=False)
        pytest.skip(f"Google's emulators are needed: {exc}")
    launch = native.Launch(bin_dir=native.find_bin_dir())
    with (
        native.running_pair(launch, logs) as ours_running,
        official.running_pair(sdk, logs) as google_running,
    ):
        ours_hosts, google_hosts = _by_name(ours_running), _by_name(google_running)
        pair = (
            side("ours", ours_hosts[PUBSUB.name], ours_hosts[BIGTABLE.name]),
            side("google", google_hosts[PUBSUB.name], google_hosts[BIGTABLE.name]),
        )
        try:
            yield pair
        finally:
            for one in pair:
                one.close()
