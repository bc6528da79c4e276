"""pytest plugin: running emulators and isolated resources for tests.

Loaded automatically once `etl-pipeline[harness]` is installed (entry point `pytest11`). Its
option, fixtures and markers' help all say `etl`, so it claims no generic name in a project it is
installed into. The emulators come from `Emulators` (etl_harness.emulators.hosts): the configured
hosts, or `--etl-emulators=docker` (or `ETL_TEST_EMULATORS=docker`) for our images through
testcontainers, `--etl-emulators=official` for Google's own emulators from the installed Cloud SDK
(etl.toml applied from Python), or a native pair on free ports for this test session (never those
`etl emulators up` recorded). Markers: `e2e`, `ours_only(reason)` (skipped against Google's
emulators), `official_lacks(reason)` (skipped against Google's emulators only), `not_on_cloud`,
`contract`, `parity`. Their hosts are exported to the session's environment, which the test
clients and the processes the tests start (`etl serve`) read.

Fixtures: `etl_emulators` and `etl_emulator_hosts` (session), `etl_publisher`, `etl_subscriber`
and `etl_bigtable_client` (official clients, one each per session), `etl_gcp_project`,
`etl_unique_name`, `etl_bigtable_instance`, `etl_pubsub_faults` (the admin API's fault
injection), `etl_seeded_emulators`.

The emulators come up seeded from etl.toml. Every test names its topics, subscriptions and
tables with `etl_unique_name` (or its own project), so tests never share state and can run in
parallel under pytest-xdist. `etl_seeded_emulators` instead gives a test the shared project,
reset to exactly what etl.toml lists (tens of milliseconds, no restart).
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
    from etl_harness.cloud import CloudSession, CloudTarget  # noqa: F401 (CLOUD_KEY names it)
    from etl_harness.emulators.hosts import Emulators
    from etl_harness.emulators.pair import Hosts
    from etl_harness.inspector.admin import AdminApi
    from etl_harness.local import Local
    from etl_harness.provision import ResetReport

# Nothing of the project is imported at module level: pytest loads this plugin before coverage
# starts, and what it imports here would be measured as never run.


OPTION = "--etl-emulators"
MARKERS = {
    "e2e": "needs running emulators (the plugin's `etl_emulators` fixture)",
    "ours_only(reason)": "needs an extension of this project's emulators (admin API, seeding "
    "before they answer, fault injection…): skipped, with the reason, against Google's "
    "emulators and Google Cloud",
    "official_lacks(reason)": "production has it but Google's emulators do not (e.g. "
    "DetachSubscription): skipped, with the reason, under --etl-emulators=official",
    "not_on_cloud(reason)": "cannot run against Google Cloud from here (e.g. push to a local "
    "endpoint): skipped, with the reason, under --etl-emulators=cloud",
    "contract": "what the code relies on from an emulator; runs under --etl-emulators=cloud",
    "parity": "behaviour as Google documents it; runs under --etl-emulators=cloud",
}
CLOUD_MARKERS = ("contract", "parity")
"""Only tests carrying one of these run under --etl-emulators=cloud; the rest skip."""
CLOUD_KEY = pytest.StashKey["CloudTarget"]()
TRUE = {"1", "true", "yes"}


MODES = ("auto", "native", "docker", "official", "cloud")
"""`etl_harness.emulators.hosts.MODES` plus `cloud` (spelled out: importing hosts here would load
the Google clients into every pytest start, before coverage)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("etl-emulators", "etl-pipeline emulators")
    group.addoption(
        OPTION,
        dest="etl_emulators",
        choices=MODES,
        default=os.environ.get("ETL_TEST_EMULATORS", "auto"),
        help="where e2e tests get emulators (ETL_TEST_EMULATORS): env hosts if set, else our "
        "native binaries (auto); native; our images via testcontainers (docker); Google's own "
        "emulators from the installed Cloud SDK (official); Google Cloud itself for the "
        "contract and parity tests (cloud: ETL_CLOUD_PROJECT and ETL_CLOUD_INSTANCE required).",
    )
    group.addoption(
        "--etl-cloud-dry-run",
        action="store_true",
        default=False,
        help="with --etl-emulators=cloud: print the target, the prefix, the tests and what would "
        "be created and deleted, then run nothing (no call reaches Google)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {help_text}")
    if config.getoption("etl_emulators") == "cloud":
        from etl_harness.cloud import CloudRefused, target_from_env

        try:
            config.stash[CLOUD_KEY] = target_from_env(os.environ)
        except CloudRefused as exc:
            raise pytest.UsageError(str(exc)) from None
    elif config.getoption("etl_cloud_dry_run"):
        raise pytest.UsageError("--etl-cloud-dry-run goes with --etl-emulators=cloud")


SEEDED_GROUP = "etl-seeded-project"
"""The xdist group of the tests that share the seeded project (`etl_seeded_emulators`): under
`pytest -n N --dist loadgroup` they run one after another on one worker."""


@pytest.hookimpl(tryfirst=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_seeded_group(config: pytest.Config, items: list[pytest.Item]) -> None:
    """First, as xdist's worker reads the groups in its own pass of the hook (pytest takes only
    `pytest_*` names, hence this one with its `specname`)."""
    if config.pluginmanager.hasplugin("xdist"):  # its marker exists only with it
        for item in items:
            if "etl_seeded_emulators" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(SEEDED_GROUP))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cloud dry run: say what would happen, deselect everything."""
    target = config.stash.get(CLOUD_KEY, None)
    if target is None or not config.getoption("etl_cloud_dry_run"):
        return
    runnable = [item.nodeid for item in items if _cloud_runnable(item) is None]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in ["etl cloud dry run (nothing is sent to Google):", *target.plan(runnable)]:
        if reporter is not None:
            reporter.write_line(line)
    config.hook.pytest_deselected(items=list(items))
    items.clear()


def _reason(mark: pytest.Mark) -> str:
    return str(mark.args[0]) if mark.args else mark.name


def _cloud_runnable(item: pytest.Item) -> str | None:
    """None if `item` runs against Google Cloud, else why not."""
    if not any(item.get_closest_marker(name) for name in CLOUD_MARKERS):
        return "only the contract and parity tests run against Google Cloud"
    for name in ("ours_only", "not_on_cloud"):
        for mark in item.iter_markers(name):
            return f"not available in Google Cloud from here: {_reason(mark)}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip, saying why, what the chosen target cannot run (decided before any start)."""
    mode = item.config.getoption("etl_emulators")
    if mode == "official":
        for name in ("ours_only", "official_lacks"):
            for mark in item.iter_markers(name):
                pytest.skip(f"not available in Google's emulators: {_reason(mark)}")
    elif mode == "cloud" and (why := _cloud_runnable(item)) is not None:
        pytest.skip(why)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in TRUE


@pytest.fixture(scope="session")
def etl_emulators(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulators | CloudSession]:
    """Running emulators for the whole session, their hosts exported to the environment, which
    the processes tests start (`etl serve`) and the clients they make read.

    When none can be started (binaries not built, no Cloud SDK…) the tests that need them are
    skipped with the reason; under `CI=true` they fail instead.
    """
    from etl_harness.emulators.hosts import Emulators
    from etl_harness.emulators.pair import EmulatorError
    from etl_harness.local import from_env

    mode = request.config.getoption("etl_emulators")
    if mode == "cloud":
        yield from _cloud(request.config)
        return
    logs = tmp_path_factory.mktemp("emulator-logs")
    with contextlib.ExitStack() as stack:
        try:
            running = stack.enter_context(
                Emulators(from_env(os.environ), mode, reuse_recorded=False, log_dir=logs)
            )
        except EmulatorError as exc:
            message = f"no emulators ({mode}): {exc}"
            if _in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        for name, value in running.env().items():
            mp.setenv(name, value)
        if not running.seeded:
            from etl_harness import provision

            provision.ensure_stages(running.settings, provision.load(running.local))
        yield running


def _cloud(config: pytest.Config) -> Iterator[CloudSession]:
    """Google Cloud, emulator hosts unset for the session, every prefixed resource deleted after."""
    from etl_harness.cloud import HOST_VARIABLES, CloudSession
    from etl_harness.local import from_env

    session = CloudSession(from_env(os.environ), config.stash[CLOUD_KEY])
    with pytest.MonkeyPatch.context() as mp:
        for name in HOST_VARIABLES:
            mp.delenv(name, raising=False)
        try:
            yield session
        finally:
            session.cleanup()


@pytest.fixture(scope="session")
def etl_emulator_hosts(etl_emulators: Emulators | CloudSession) -> Hosts:
    """Where the session's emulators answer, and how they were provided."""
    return etl_emulators.hosts


@pytest.fixture
def etl_unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """`unique_name("events")` → `events-<test>-<random>`: a resource no other test touches.

    In a cloud run the run's prefix comes first (`etlt-1a2b3c4d-events-<test>-<random>`, the
    test part shorter: Bigtable table ids stop at 50), so the cleanup finds everything."""
    target = request.config.stash.get(CLOUD_KEY, None)
    width = 30 if target is None else 16
    test = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:width].strip("-")
    run = "" if target is None else f"{target.prefix}-"

    def make(prefix: str) -> str:
        return f"{run}{prefix}-{test}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def etl_gcp_project(etl_emulators: Emulators | CloudSession) -> str:
    """The project the clients below default to (etl.toml's)."""
    return etl_emulators.settings.project


# The clients are shared by the session's tests (each holds a gRPC channel; they are thread-safe
# and keep no per-test state). A test that needs other settings (batching, flow control, another
# host) makes its own; never stop or close these.


@pytest.fixture(scope="session")
def etl_publisher(
    etl_emulators: Emulators | CloudSession,
) -> Iterator[pubsub_v1.PublisherClient]:
    """A `PublisherClient` for the session's emulators (shared: do not stop it)."""
    client = etl_emulators.publisher()
    yield client
    client.stop()


@pytest.fixture(scope="session")
def etl_subscriber(
    etl_emulators: Emulators | CloudSession,
) -> Iterator[pubsub_v1.SubscriberClient]:
    """A `SubscriberClient` for the session's emulators (shared: do not close it)."""
    with contextlib.closing(etl_emulators.subscriber()) as client:
        yield client


@pytest.fixture(scope="session")
def etl_bigtable_client(etl_emulators: Emulators | CloudSession) -> Iterator[bigtable.Client]:
    """An admin `bigtable.Client` for the session's emulators (shared: do not close it)."""
    with contextlib.closing(etl_emulators.bigtable()) as client:
        yield client


@pytest.fixture
def etl_pubsub_faults(etl_emulator_hosts: Hosts) -> AdminApi:
    """Our Pub/Sub emulator's admin API, to inject faults per subscription (`set_faults`,
    `subscription_faults` with the counts fired, `clear_faults`); skips the test on emulators
    without one (Google's)."""
    from etl_harness.inspector.admin import AdminApi

    if etl_emulator_hosts.admin is None:
        pytest.skip("these emulators have no admin API (Google's): faults need ours")
    return AdminApi(etl_emulator_hosts.admin, timeout=10)


@pytest.fixture
def etl_bigtable_instance(
    etl_emulators: Emulators | CloudSession, etl_bigtable_client: bigtable.Client
) -> Any:
    """The emulator has no instance admin: any instance id works without creating it."""
    return etl_bigtable_client.instance(etl_emulators.settings.instance)


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
def etl_seeded_emulators(etl_emulator_hosts: Hosts) -> Seeded:
    """Emulators holding exactly what etl.toml lists for `local-project`: every other topic,
    subscription (and backlog) and table of the project deleted, seeded ones recreated empty.

    The stage is `ETL_STAGE`, else the pipeline's default (`etl.config`: `dev`), as for the `etl`
    command: what a developer sees with `etl` is what the fixture seeded. Tests using it share that
    project: the plugin puts them in one xdist group (`--dist loadgroup` runs them on one worker).
    """
    from dataclasses import replace

    from etl.config import DEFAULT_PROJECT
    from etl_harness.local import from_env
    from etl_harness.provision import load, reset_all

    del etl_emulator_hosts
    local = from_env(os.environ)
    local = local.with_settings(replace(local.settings, project=DEFAULT_PROJECT))
    return Seeded(local, reset_all(local.settings, load(local)))
