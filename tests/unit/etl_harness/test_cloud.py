"""The cloud target (`--etl-emulators=cloud`): refused unless explicit, and a dry run that says
what would be created and deleted without sending anything to Google."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from etl_harness.cloud import CloudRefused, CloudTarget, target_from_env
from tests.unit.etl_harness import downstream


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"GOOGLE_CLOUD_PROJECT": "prod-project", "ETL_CLOUD_INSTANCE": "i"},
        {"ETL_CLOUD_PROJECT": "p"},
        {"ETL_CLOUD_PROJECT": " ", "ETL_CLOUD_INSTANCE": "i"},
    ],
)
def test_a_cloud_target_is_refused_without_an_explicit_project_and_instance(
    environ: dict[str, str],
) -> None:
    with pytest.raises(CloudRefused, match="ETL_CLOUD_"):
        target_from_env(environ)


def test_the_target_owns_only_ids_under_its_prefix_with_dashes_or_underscores() -> None:
    target = target_from_env(
        {"ETL_CLOUD_PROJECT": "p", "ETL_CLOUD_INSTANCE": "i", "ETL_CLOUD_PREFIX": "etlt-1234"}
    )
    assert target == CloudTarget("p", "i", "etlt-1234")
    assert target.owns("etlt-1234-topic-x")
    assert target.owns("etlt_1234_t_x")
    assert not target.owns("etlt-12345-topic")
    assert not target.owns("events")


def test_each_run_gets_a_prefix_of_its_own() -> None:
    env = {"ETL_CLOUD_PROJECT": "p", "ETL_CLOUD_INSTANCE": "i"}
    assert target_from_env(env).prefix != target_from_env(env).prefix


DOWNSTREAM_TEST = """
import pytest

@pytest.mark.parity
def test_listed(etl_unique_name):
    raise AssertionError("a dry run runs nothing")

@pytest.mark.parity
@pytest.mark.not_on_cloud("push")
def test_push_is_not_listed(etl_unique_name):
    raise AssertionError("a dry run runs nothing")

def test_not_a_parity_test():
    raise AssertionError("a dry run runs nothing")
"""


def run_pytest(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return downstream.run_pytest(tmp_path, DOWNSTREAM_TEST, "-W", "ignore", *args, **env)


def test_the_dry_run_lists_the_target_tests_and_deletions_and_runs_nothing(tmp_path: Path) -> None:
    done = run_pytest(
        tmp_path,
        "--etl-emulators=cloud",
        "--etl-cloud-dry-run",
        ETL_CLOUD_PROJECT="scratch-project",
        ETL_CLOUD_INSTANCE="scratch-instance",
        ETL_CLOUD_PREFIX="etlt-feedbeef",
    )
    out = done.stdout
    assert "target: project scratch-project, Bigtable instance scratch-instance" in out
    assert "test_downstream.py::test_listed" in out
    assert "test_push_is_not_listed" not in out
    assert "test_not_a_parity_test" not in out
    for kind in ("snapshots", "subscriptions", "topics"):
        assert f"projects/scratch-project/{kind}/etlt-feedbeef-*" in out
    assert "projects/scratch-project/instances/scratch-instance/tables/etlt-feedbeef-*" in out
    assert "3 deselected" in out
    assert "passed" not in out
    assert "failed" not in out
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_cloud_run_without_a_project_is_a_usage_error(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--etl-emulators=cloud", GOOGLE_CLOUD_PROJECT="prod")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ETL_CLOUD_PROJECT and ETL_CLOUD_INSTANCE" in done.stderr


def test_the_dry_run_alone_is_a_usage_error(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--etl-cloud-dry-run")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--etl-emulators=cloud" in done.stderr
