"""The harness installs with pip, outside the checkout: the project's wheel and the emulators'
platform wheel (`nox -s wheels` builds both) in a fresh venv give a working `etl emulators up`,
`etl demo` and pytest plugin, with the binaries found in the installed package, never in the
checkout."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.processes import run_captured

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.xdist_group("wheels")  # both tests share one venv

DOWNSTREAM_MODULE = '''
"""A downstream project's code: publishes orders."""


def publish_orders(publisher, topic, count):
    return [publisher.publish(topic, f"order {n}".encode()).result() for n in range(count)]
'''

DOWNSTREAM_TEST = """
import pytest

from orders import publish_orders


@pytest.mark.e2e
def test_every_order_arrives(etl_publisher, etl_subscriber, etl_gcp_project, etl_unique_name):
    topic = etl_publisher.topic_path(etl_gcp_project, etl_unique_name("orders"))
    etl_publisher.create_topic(name=topic)
    sub = etl_subscriber.subscription_path(etl_gcp_project, etl_unique_name("orders"))
    etl_subscriber.create_subscription(name=sub, topic=topic)

    publish_orders(etl_publisher, topic, 5)

    got = []
    while len(got) < 5:
        response = etl_subscriber.pull(subscription=sub, max_messages=10, timeout=10)
        got += [m.message.data for m in response.received_messages]
    assert sorted(got) == [f"order {n}".encode() for n in range(5)]
"""

DOWNSTREAM_PYPROJECT = """
[tool.pytest.ini_options]
addopts = ["--strict-markers", "-p", "no:cacheprovider"]
"""


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = run_captured(args, cwd=cwd, env=env, timeout=600)
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


@dataclass(frozen=True)
class Built:
    """The two wheels (`nox -s wheels` builds the same), the locked versions as constraints, and
    where to make venvs."""

    tmp: Path
    project: Path
    emulators: Path
    constraints: Path

    def venv(self, name: str, *wanted: str | Path) -> Path:
        """A fresh venv holding `wanted` (pip requirements, within the locked versions)."""
        uv, venv = find_uv_bin(), self.tmp / name
        run(uv, "venv", "-q", "-p", sys.executable, venv, cwd=self.tmp)
        python = venv / "bin" / "python"
        run(uv, "pip", "install", "-q", "-p", python, "-c", self.constraints, *wanted, cwd=self.tmp)
        return venv

    def env(self, venv: Path) -> dict[str, str]:
        """This environment without the checkout's emulators, hosts and state, `venv` on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
        drop = ("ETL_EMULATORS_BIN", "ETL_SEED_FILE", "ETL_PUBSUB_ADMIN_HOST")
        env = {k: v for k, v in env.items() if k not in drop and not k.startswith("PYTEST_")}
        return env | {
            "ETL_STATE_DIR": str(self.tmp / "state"),
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        }


@dataclass(frozen=True)
class Installed:
    """A fresh venv holding the two wheels, and a directory outside the checkout to run in."""

    venv: Path
    elsewhere: Path
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def etl(self) -> Path:
        return self.venv / "bin" / "etl"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("wheels")
    uv, dist = find_uv_bin(), tmp / "dist"
    run(uv, "build", "--wheel", "--out-dir", dist, REPO, cwd=REPO)
    run(sys.executable, REPO / "emulators" / "wheel.py", dist, cwd=REPO)
    constraints = tmp / "constraints.txt"  # the locked versions, inside pyproject's ranges
    locked = ("export", "--frozen", "--all-extras", "--no-emit-project", "--no-hashes")
    run(uv, *locked, "--quiet", "--output-file", constraints, cwd=REPO)
    project = next(dist.glob("etl_pipeline-*.whl"))
    emulators = next(dist.glob("etl_pipeline_emulators-*.whl"))
    return Built(tmp, project, emulators, constraints)


@pytest.fixture(scope="module")
def installed(built: Built) -> Installed:
    venv = built.venv("venv", f"{built.project}[harness]", built.emulators, "pytest")
    elsewhere = built.tmp / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv, elsewhere, built.env(venv))


def test_etl_without_the_harness_extra_names_what_to_install_in_one_line(built: Built) -> None:
    venv = built.venv("runtime-only", built.project)  # `pip install etl-pipeline`, no extra
    result = run_captured(
        [venv / "bin" / "etl", "--help"], cwd=built.tmp, env=built.env(venv), timeout=60
    )
    assert (result.returncode, result.stdout) == (2, "")
    (line,) = result.stderr.splitlines()  # no traceback
    assert line.startswith("error: the etl command needs the harness extra (typer, ")
    assert line.endswith(": pip install 'etl-pipeline[harness]'")


def test_the_wheels_run_the_emulators_and_the_demo_outside_the_checkout(
    installed: Installed,
) -> None:
    etl, cwd, env = installed.etl, installed.elsewhere, installed.env
    up = json.loads(run(etl, "emulators", "up", "--json", cwd=cwd, env=env))
    try:
        logs = [Path(e["log"]) for e in up["emulators"].values()]
        assert all(log.is_file() for log in logs)
        status = json.loads(run(etl, "emulators", "status", "--json", cwd=cwd, env=env))
        assert all(row["up"] for row in status.values())
    finally:
        down = json.loads(run(etl, "emulators", "down", "--json", cwd=cwd, env=env))
    assert len(down["stopped"]) == 2
    probe = "import etl_harness.emulators.native as n; print(n.find_bin_dir())"
    found = Path(run(installed.python, "-c", probe, cwd=cwd, env=env).strip())
    assert found.is_relative_to(installed.venv / "lib"), "binaries from the installed wheel"
    report = json.loads(run(etl, "demo", "--events", "100", "--json", cwd=cwd, env=env))
    assert report["ok"] is True
    assert report["occupancy"] == report["groundTruth"]


def test_a_downstream_project_tests_its_code_with_the_plugins_fixtures(
    installed: Installed,
) -> None:
    project = installed.elsewhere / "downstream"
    (project / "tests").mkdir(parents=True)
    (project / "orders.py").write_text(DOWNSTREAM_MODULE)
    (project / "tests" / "test_orders.py").write_text(DOWNSTREAM_TEST)
    (project / "pyproject.toml").write_text(DOWNSTREAM_PYPROJECT)
    env = installed.env | {"CI": "true", "PYTHONPATH": str(project)}  # CI: no skip, a failure
    out = run(installed.python, "-m", "pytest", "-q", "-rs", cwd=project, env=env)
    assert "1 passed" in out, out
