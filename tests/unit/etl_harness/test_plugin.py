"""The pytest plugin as a downstream project sees it: its markers registered (so
`--strict-markers` works), its option and fixtures prefixed, and no emulator → a skip with the
reason (a failure under `CI=true`)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.unit.etl_harness import downstream

DOWNSTREAM_TEST = """
import pytest

@pytest.mark.e2e
@pytest.mark.ours_only("admin API")
@pytest.mark.official_lacks("DetachSubscription")
@pytest.mark.not_on_cloud("push")
def test_needs_emulators(etl_publisher):
    assert etl_publisher is not None
"""


def run_pytest(
    tmp_path: Path, *args: str, test: str = DOWNSTREAM_TEST, **env: str
) -> subprocess.CompletedProcess[str]:
    return downstream.run_pytest(tmp_path, test, "-rs", *args, **env)


def test_the_markers_are_registered_for_strict_markers(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--strict-markers", "--collect-only", "-q")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "test_downstream.py::test_needs_emulators" in done.stdout


def test_the_option_is_prefixed_and_listed_with_its_modes(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--help")
    assert "--etl-emulators" in done.stdout
    assert "--etl-cloud-dry-run" in done.stdout
    assert "official" in done.stdout


def test_it_claims_no_generic_option(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--help")
    assert re.search(r"^\s+--emulators\b", done.stdout, re.MULTILINE) is None


def test_every_fixture_it_provides_says_etl_and_the_clients_are_per_session(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--fixtures")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    section = done.stdout.split("fixtures defined from etl_harness.emulators.plugin", 1)[1]
    section = section.split("-- fixtures defined from", 1)[0]
    names = re.findall(r"^(\w+)(?: \[session scope\])? -- ", section, re.MULTILINE)
    assert len(names) >= 10, section
    assert all(name.startswith("etl_") for name in names), names
    shared = set(re.findall(r"^(\w+) \[session scope\] -- ", section, re.MULTILINE))
    assert {"etl_publisher", "etl_subscriber", "etl_bigtable_client"} <= shared, shared


GROUP_PROBE = """
def pytest_collection_finish(session):
    for item in session.items:
        group = item.get_closest_marker("xdist_group")
        print("GROUP", item.name, group.args[0] if group else None)
"""


def test_the_tests_sharing_the_seeded_project_are_one_xdist_group(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(GROUP_PROBE)
    shared = "def test_shared(etl_seeded_emulators):\n    pass\n\n"
    own = "def test_own(etl_unique_name):\n    pass\n"
    done = run_pytest(tmp_path, "--collect-only", "-q", "-s", test=shared + own)
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "GROUP test_shared etl-seeded-project" in done.stdout
    assert "GROUP test_own None" in done.stdout


def test_no_emulator_to_start_skips_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    done = run_pytest(tmp_path, "--etl-emulators=native", ETL_EMULATORS_BIN=str(empty))
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "no emulators (native)" in done.stdout
    assert "pubsub-emulator not found" in done.stdout


def test_no_emulator_to_start_fails_under_ci(tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    done = run_pytest(tmp_path, "--etl-emulators=native", ETL_EMULATORS_BIN=str(empty), CI="true")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert "no emulators (native)" in done.stdout


def test_the_marked_test_skips_against_googles_emulators_before_any_start(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--etl-emulators=official")
    assert "1 skipped" in done.stdout
    assert "not available in Google's emulators: admin API" in done.stdout


def test_no_cloud_sdk_skips_the_official_mode_with_the_reason(tmp_path: Path) -> None:
    done = run_pytest(
        tmp_path,
        "--etl-emulators=official",
        test="def test_uses_them(etl_subscriber):\n    assert etl_subscriber is not None\n",
        ETL_GCLOUD_SDK_ROOT=str(tmp_path / "no-sdk"),
    )
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "Google's emulators are not installed under" in done.stdout


def test_the_plugin_modes_are_the_emulators_modes_and_cloud() -> None:
    from etl_harness.emulators import hosts, plugin

    assert (*hosts.MODES, "cloud") == plugin.MODES
