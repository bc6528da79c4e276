"""pytest plugin: running emulators and isolated resources for tests.

Loaded automatically once `etl-pipeline[harness]` is installed (entry point `pytest11`). The
emulators come from `Emulators` (etl_harness.emulators.hosts): the configured hosts, or
`--emulators=docker` (or `ETL_TEST_EMULATORS=docker`) for our images through testcontainers, or
a native pair on free ports for this test session (never those `etl emulators up` recorded).
Their hosts are exported to the session's environment, which the test clients and the processes
the tests start (`etl serve`) read.

The emulators come up seeded from etl.toml. Every test names its topics, subscriptions and
tables with `unique_name` (or its own project), so tests never share state and can run in
parallel under pytest-xdist. `seeded_emulators` instead gives a test the shared project, reset to
exactly what etl.toml lists (tens of milliseconds, no restart).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import google.cloud.pubsub_v1 as pubsub_v1
    from google.cloud import bigtable

    from etl.config import Settings
    from etl_harness.emulators.hosts import Emulators
    from etl_harness.emulators.native import Hosts
    from etl_harness.inspector.admin import AdminApi
    from etl_harness.local import Local
    from etl_harness.provision import ResetReport

# Nothing of the project is imported at module level: pytest loads this plugin before coverage
# starts, and what it imports here would be measured as never run.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--emulators",
        choices=("auto", "native", "docker"),
        default=os.environ.get("ETL_TEST_EMULATORS", "auto"),
        help="where e2e tests get emulators: env hosts if set, else native binaries (auto), "
        "or our images via testcontainers (docker)",
    )


@pytest.fixture(scope="session")
def emulators(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulators]:
    """Running emulators for the whole session, their hosts exported to the environment, which
    the processes tests start (`etl serve`) and the clients they make read."""
    from etl_harness.emulators.hosts import Emulators
    from etl_harness.local import from_env

    mode = request.config.getoption("--emulators")
    logs = tmp_path_factory.mktemp("emulator-logs")
    with (
        Emulators(from_env(os.environ), mode, reuse_recorded=False, log_dir=logs) as running,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in running.env().items():
            mp.setenv(name, value)
        yield running


@pytest.fixture(scope="session")
def emulator_hosts(emulators: Emulators) -> Hosts:
    """Where the session's emulators answer, and how they were provided."""
    return emulators.hosts


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """`unique_name("events")` → `events-<test>-<random>`: a resource no other test touches."""
    test = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")

    def make(prefix: str) -> str:
        return f"{prefix}-{test}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def gcp_project(emulators: Emulators) -> str:
    """The project the clients below default to (etl.toml's)."""
    return emulators.settings.project


@pytest.fixture
def publisher(emulators: Emulators) -> Iterator[pubsub_v1.PublisherClient]:
    client = emulators.publisher()
    yield client
    client.stop()


@pytest.fixture
def subscriber(emulators: Emulators) -> Iterator[pubsub_v1.SubscriberClient]:
    with contextlib.closing(emulators.subscriber()) as client:
        yield client


@pytest.fixture
def bigtable_client(emulators: Emulators) -> Iterator[bigtable.Client]:
    with contextlib.closing(emulators.bigtable()) as client:
        yield client


@pytest.fixture
def pubsub_faults(emulator_hosts: Hosts) -> AdminApi:
    """Our Pub/Sub emulator's admin API, to inject faults per subscription (`set_faults`,
    `subscription_faults` with the counts fired, `clear_faults`); skips the test on emulators
    without one (Google's)."""
    from etl_harness.inspector.admin import AdminApi

    if emulator_hosts.admin is None:
        pytest.skip("these emulators have no admin API (Google's): faults need ours")
    return AdminApi(emulator_hosts.admin, timeout=10)


@pytest.fixture
def bigtable_instance(emulators: Emulators, bigtable_client: bigtable.Client) -> Any:
    """The emulator has no instance admin: any instance id works without creating it."""
    return bigtable_client.instance(emulators.settings.instance)


@dataclass(frozen=True, slots=True)
class Seeded:
    """The shared project, just reset to etl.toml; `reset()` does it again mid-test."""

    local: Local
    report: ResetReport

    @property
    def settings(self) -> Settings:
        return self.local.settings

    def reset(self) -> ResetReport:
        from etl_harness.provision import load, reset_all

        return reset_all(self.local.settings, load(self.local))


@pytest.fixture
def seeded_emulators(emulator_hosts: Hosts) -> Seeded:
    """Emulators holding exactly what etl.toml lists for `local-project`: every other topic,
    subscription (and backlog) and table of the project deleted, seeded ones recreated empty.

    Stage `test` unless `ETL_STAGE` says otherwise. Tests using it share that project: do not run
    them in parallel with each other.
    """
    from dataclasses import replace

    from etl.config import DEFAULT_PROJECT
    from etl_harness.local import from_env
    from etl_harness.provision import load, reset_all

    del emulator_hosts
    local = from_env(os.environ)
    stage = os.environ.get("ETL_STAGE", "test")
    local = local.with_settings(replace(local.settings, project=DEFAULT_PROJECT, stage=stage))
    return Seeded(local, reset_all(local.settings, load(local)))
