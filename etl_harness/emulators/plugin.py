"""pytest plugin: running emulators and isolated resources for tests.

Loaded automatically once `etl-pipeline` is installed (entry point `pytest11`). Where the
emulators come from, in order:

1. `PUBSUB_EMULATOR_HOST` and `BIGTABLE_EMULATOR_HOST` already set (compose, Google's image in CI);
2. `--emulators=docker` (or `ETL_TEST_EMULATORS=docker`): our images through testcontainers;
3. otherwise the native binaries from `emulators/bin`, on free ports, for this test session.

The emulators come up seeded from etl.toml. Every test names its topics, subscriptions and
tables with `unique_name` (or its own project), so tests never share state and can run in
parallel under pytest-xdist. `seeded_emulators` instead gives a test the shared project, reset to
exactly what etl.toml lists (tens of milliseconds, no restart).
"""

from __future__ import annotations

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
    from etl_harness.provision import ResetReport

TEST_PROJECT = "local-project"


@dataclass(frozen=True, slots=True)
class EmulatorHosts:
    """Where the two emulators answer, and how they were provided."""

    pubsub: str
    bigtable: str
    source: str

    admin: str | None = None

    def env(self) -> dict[str, str]:
        env = {"PUBSUB_EMULATOR_HOST": self.pubsub, "BIGTABLE_EMULATOR_HOST": self.bigtable}
        if self.admin:
            env["ETL_PUBSUB_ADMIN_HOST"] = self.admin
        return env


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--emulators",
        choices=("auto", "native", "docker"),
        default=os.environ.get("ETL_TEST_EMULATORS", "auto"),
        help="where e2e tests get emulators: env hosts if set, else native binaries (auto), "
        "or our images via testcontainers (docker)",
    )


@pytest.fixture(scope="session")
def emulator_hosts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorHosts]:
    """Running emulators for the whole session, exported to the clients through the env."""
    mode = request.config.getoption("--emulators")
    pubsub, bigtable = (
        os.environ.get("PUBSUB_EMULATOR_HOST"),
        os.environ.get("BIGTABLE_EMULATOR_HOST"),
    )
    with pytest.MonkeyPatch.context() as mp:
        if mode == "auto" and pubsub and bigtable:
            yield EmulatorHosts(pubsub, bigtable, "env", os.environ.get("ETL_PUBSUB_ADMIN_HOST"))
        elif mode == "docker":
            from etl_harness.emulators.containers import emulator_containers

            with emulator_containers() as env:
                hosts = EmulatorHosts(
                    env["PUBSUB_EMULATOR_HOST"],
                    env["BIGTABLE_EMULATOR_HOST"],
                    "docker",
                    env.get("ETL_PUBSUB_ADMIN_HOST"),
                )
                _export(mp, hosts)
                # Push endpoints must be reachable from the containers, on the Docker host.
                mp.setenv("ETL_FUNCTIONS_HOST", "0.0.0.0")
                yield hosts
        else:
            from etl_harness.emulators.native import running_pair

            with running_pair(tmp_path_factory.mktemp("emulator-logs")) as env:
                hosts = EmulatorHosts(
                    env["PUBSUB_EMULATOR_HOST"],
                    env["BIGTABLE_EMULATOR_HOST"],
                    "native",
                    env.get("ETL_PUBSUB_ADMIN_HOST"),
                )
                _export(mp, hosts)
                yield hosts


def _export(mp: pytest.MonkeyPatch, hosts: EmulatorHosts) -> None:
    for name, value in hosts.env().items():
        mp.setenv(name, value)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """`unique_name("events")` → `events-<test>-<random>`: a resource no other test touches."""
    test = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")

    def make(prefix: str) -> str:
        return f"{prefix}-{test}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def gcp_project(emulator_hosts: EmulatorHosts) -> str:
    del emulator_hosts
    return TEST_PROJECT


@pytest.fixture
def publisher(emulator_hosts: EmulatorHosts) -> Iterator[pubsub_v1.PublisherClient]:
    import google.cloud.pubsub_v1 as pubsub_v1

    del emulator_hosts
    client = pubsub_v1.PublisherClient()
    yield client
    client.stop()


@pytest.fixture
def subscriber(emulator_hosts: EmulatorHosts) -> Iterator[pubsub_v1.SubscriberClient]:
    import google.cloud.pubsub_v1 as pubsub_v1

    del emulator_hosts
    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()


@pytest.fixture
def bigtable_client(emulator_hosts: EmulatorHosts) -> Iterator[bigtable.Client]:
    from google.cloud import bigtable

    del emulator_hosts
    client = bigtable.Client(project=TEST_PROJECT, admin=True)
    yield client
    client.close()


@pytest.fixture
def bigtable_instance(bigtable_client: bigtable.Client) -> Any:
    """The emulator has no instance admin: any instance id works without creating it."""
    return bigtable_client.instance("iotincoming")


@dataclass(frozen=True, slots=True)
class Seeded:
    """The shared project, just reset to etl.toml; `reset()` does it again mid-test."""

    settings: Settings
    report: ResetReport

    def reset(self) -> ResetReport:
        from etl_harness.provision import reset_all

        return reset_all(self.settings)


@pytest.fixture
def seeded_emulators(emulator_hosts: EmulatorHosts) -> Seeded:
    """Emulators holding exactly what etl.toml lists for `local-project`: every other topic,
    subscription (and backlog) and table of the project deleted, seeded ones recreated empty.

    Stage `test` unless `ETL_STAGE` says otherwise. Tests using it share that project: do not run
    them in parallel with each other.
    """
    from dataclasses import replace

    from etl.config import from_env
    from etl_harness.provision import reset_all

    del emulator_hosts
    settings = replace(from_env(), project=TEST_PROJECT, stage=os.environ.get("ETL_STAGE", "test"))
    return Seeded(settings, reset_all(settings))
