"""State that survives a restart, through the CLI as a user runs it: publish and write, export,
stop, start from the export, and the pipeline carries on and ends exact; and `etl emulators logs`.

These tests start emulator pairs of their own (`etl emulators up` in a state directory of the
test), whatever the session's are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import Settings, from_env
from etl_harness.inspector.admin import AdminApi
from tests.e2e.cli import etl
from tests.e2e.faults import SETTLE_S, assert_exact, served, simulation, wait_settled, wait_until

HOST_VARIABLES = ("PUBSUB_EMULATOR_HOST", "BIGTABLE_EMULATOR_HOST", "ETL_PUBSUB_ADMIN_HOST")


@pytest.fixture
def own_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment without the session's emulators, with a state directory of its own; the
    emulators started in it are stopped at the end."""
    env = {k: v for k, v in os.environ.items() if k not in HOST_VARIABLES}
    env |= {"ETL_STATE_DIR": str(tmp_path / "state"), "GOOGLE_CLOUD_PROJECT": "local-project",
            "ETL_STAGE": "test"}  # fmt: skip
    yield env
    etl("emulators", "down", env=env)


def up(env: dict[str, str], *args: str) -> dict[str, str]:
    """`etl emulators up ARGS`: the host variables it printed."""
    result = etl("emulators", "up", *args, env=env)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def worker_drains(settings: Settings, logs: Path, hosts: dict[str, str]) -> None:
    """`etl serve --pipeline worker` on these emulators until its subscription's backlog is empty:
    the worker acknowledges a message once it is stored."""
    admin = AdminApi(hosts["ETL_PUBSUB_ADMIN_HOST"])
    path = f"projects/{settings.project}/subscriptions/{settings.subscription('worker')}"
    with served(settings, "worker", logs, name="-before", **hosts):
        wait_until(lambda: admin.backlogs(settings.project)[path] == 0, SETTLE_S, "the backlog")


def test_the_pipeline_carries_on_exact_from_an_export_after_a_restart(
    own_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = simulation(limit=160, seed=42)
    before, after = sim.events[:80], sim.events[80:]
    hosts = up(own_env)
    settings = from_env(own_env | hosts)
    for name, value in hosts.items():  # the official clients read the variables themselves
        monkeypatch.setenv(name, value)
    bus = PubSub(settings)
    bus.publish(settings.events_topic, (Outgoing(e.to_json()) for e in before))
    worker_drains(settings, tmp_path, hosts)  # stored: rows and summaries
    bus.publish(settings.events_topic, (Outgoing(e.to_json()) for e in after))  # backlog only
    bus.close()

    exported = etl("emulators", "export", str(tmp_path / "export"), "--json", env=own_env)
    assert exported.returncode == 0, exported.stderr
    assert sorted(json.loads(exported.stdout)) == ["bigtable", "pubsub"]
    for name in ("pubsub", "bigtable"):
        assert (tmp_path / "export" / name / "manifest.json").is_file()
    assert etl("emulators", "down", env=own_env).returncode == 0

    exit_dir = str(tmp_path / "exit")
    hosts = up(own_env, "--import", str(tmp_path / "export"), "--export-on-exit", exit_dir)
    settings = from_env(own_env | hosts)
    for name, value in hosts.items():  # Bigtable's data client reads the variable itself
        monkeypatch.setenv(name, value)
    # the backlog is processed on top of the rows stored before the restart
    table = EventTable(settings)
    try:
        with served(settings, "worker", tmp_path, name="-after", **hosts):
            wait_settled(table, sim.events, hourly=True)
        assert_exact(settings, table, sim.events, hourly=True)
    finally:
        table.close()

    assert etl("emulators", "down", env=own_env).returncode == 0
    for name in ("pubsub", "bigtable"):
        manifest = json.loads((tmp_path / "exit" / name / "manifest.json").read_text())
        assert (manifest["service"], manifest["version"]) == (name, 1)


def test_a_corrupt_export_is_refused_and_nothing_is_left_running(
    own_env: dict[str, str], tmp_path: Path
) -> None:
    up(own_env)
    assert etl("emulators", "export", str(tmp_path / "export"), env=own_env).returncode == 0
    assert etl("emulators", "down", env=own_env).returncode == 0
    topics = tmp_path / "export" / "pubsub" / "topics.jsonl"
    topics.write_text(topics.read_text() + '{"name": "projects/p/topics/sneaked-in"}\n')

    result = etl("emulators", "up", "--import", str(tmp_path / "export"), env=own_env)
    assert result.returncode == 1
    assert "topics.jsonl is corrupt" in " ".join(result.stderr.split())
    assert etl("emulators", "status", env=own_env).returncode == 1


def test_logs_show_each_emulator_prefixed_and_follow_until_they_stop(
    own_env: dict[str, str],
) -> None:
    hosts = up(own_env)
    shown = etl("emulators", "logs", env=own_env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"pubsub   | pubsub emulator listening on {hosts['PUBSUB_EMULATOR_HOST']}" in lines
    assert f"bigtable | bigtable emulator listening on {hosts['BIGTABLE_EMULATOR_HOST']}" in lines
    only = etl("emulators", "logs", "bigtable", env=own_env).stdout.splitlines()
    assert only
    assert all(line.startswith("bigtable | ") for line in only)

    follower = subprocess.Popen(
        [sys.executable, "-m", "etl_harness", "emulators", "logs", "-f", "pubsub"],
        stdout=subprocess.PIPE,
        text=True,
        env=own_env,
    )
    try:
        assert etl("emulators", "down", env=own_env).returncode == 0
        out, _ = follower.communicate(timeout=60)  # ends by itself once the emulator stopped
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0
    assert out.splitlines()[-1].startswith("pubsub   | ")
    assert "shutting down" in out
