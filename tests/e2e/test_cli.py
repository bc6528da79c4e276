"""The `etl` command as a user runs it: emulator lifecycle, demo, occupancy and status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from etl_harness.emulators.pair import Hosts
from tests.e2e.cli import etl


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`etl ARGS` with this process's environment plus `env`."""
    return etl(*args, env={**os.environ, **(env or {})})


def without_hosts(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    return {**env, "ETL_STATE_DIR": str(tmp_path)}


def test_emulators_up_prints_exactly_the_host_lines_is_idempotent_and_down_stops_them(
    tmp_path: Path,
) -> None:
    env = without_hosts(tmp_path)
    first = etl("emulators", "up", env=env)
    try:
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert [line.split("=")[0] for line in lines] == [
            "PUBSUB_EMULATOR_HOST",
            "BIGTABLE_EMULATOR_HOST",
            "ETL_PUBSUB_ADMIN_HOST",
        ]
        assert all(re.fullmatch(r"\w+=127\.0\.0\.1:\d+", line) for line in lines)
        again = etl("emulators", "up", env=env)
        assert again.stdout == first.stdout, "a second `up` reuses the running emulators"
        status = etl("emulators", "status", env=env)
        assert status.returncode == 0
        assert status.stdout.count("\tup\t") == 2
    finally:
        down = etl("emulators", "down", env=env)
    assert down.returncode == 0
    assert etl("emulators", "status", env=env).returncode == 1


def test_emulators_up_is_all_or_nothing_when_one_emulator_fails_to_start(tmp_path: Path) -> None:
    from etl_harness.emulators.native import find_bin_dir

    built = find_bin_dir(os.environ.get("ETL_EMULATORS_BIN"))
    assert built is not None, "run from the repository, or set ETL_EMULATORS_BIN"
    bins = tmp_path / "bin"
    bins.mkdir()
    (bins / "pubsub-emulator").symlink_to(built / "pubsub-emulator")
    broken = bins / "bigtable-emulator"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    env = {**without_hosts(tmp_path), "ETL_EMULATORS_BIN": str(bins)}
    result = etl("emulators", "up", env=env)
    assert result.returncode == 1
    assert "bigtable emulator exited before it was ready" in result.stderr
    state = json.loads((tmp_path / "emulators.json").read_text())
    assert state == {}, "the Pub/Sub emulator it had started was stopped and forgotten"
    assert etl("emulators", "status", env=env).returncode == 1


def test_emulators_up_names_the_build_command_when_binaries_are_missing(tmp_path: Path) -> None:
    env = {**without_hosts(tmp_path), "ETL_EMULATORS_BIN": str(tmp_path / "nowhere")}
    result = etl("emulators", "up", env=env)
    assert result.returncode == 1
    assert "bash emulators/build.sh" in result.stderr


@pytest.mark.parametrize("pipeline", ["worker", "current"])
def test_demo_checks_the_pipeline_against_the_ground_truth(
    etl_emulator_hosts: Hosts, pipeline: str
) -> None:
    result = run(
        *("demo", "--events", "300", "--pipeline", pipeline, "--timeout", "120", "--json"),
        env=etl_emulator_hosts.env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)  # the tables went to stderr
    assert "MISMATCH" not in result.stderr
    assert "OK: pipeline" in result.stderr
    assert "Connecting to Bigtable emulator" not in result.stderr
    assert len(result.stderr.splitlines()) < 40, "no log or access line per event"
    assert report["ok"] is True
    assert report["occupancy"] == report["groundTruth"]
    assert report["events"] == 300
    demo_project = re.findall(r"project (etl-demo-\w+)", result.stderr)[-1]
    status = run(
        "status",
        "--json",
        env={**etl_emulator_hosts.env(), "GOOGLE_CLOUD_PROJECT": demo_project, "ETL_STAGE": "dev"},
    )
    stored = json.loads(status.stdout)["services"]
    shown = table_rows(result.stderr, "Current occupancy")
    assert {svc: int(row["events"]) for svc, row in shown.items()} == {
        svc: s["events"] for svc, s in stored.items()
    }, "the demo's events column is each site's unique events, as `etl status` counts them"
    assert sum(s["events"] for s in stored.values()) == 300


def table_rows(text: str, title: str) -> dict[str, dict[str, str]]:
    """The rows of the rich table printed under `title`, by their first cell, by column name."""
    lines = text.splitlines()
    start = lines.index(title)
    header: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 1 :]:
        cells = [c.strip() for c in re.split(r"[┃│]", line)[1:-1]]
        if line.startswith("┃"):
            header = cells
        elif line.startswith("│"):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
        elif line.startswith("└"):
            return rows
    raise AssertionError(f"no end of table {title!r} in {text!r}")


def test_simulate_then_occupancy_and_status_report_the_same_world(
    etl_emulator_hosts: Hosts, tmp_path: Path
) -> None:
    env = {
        **etl_emulator_hosts.env(),
        "GOOGLE_CLOUD_PROJECT": f"cli-{tmp_path.name[-12:]}",
        "ETL_STAGE": "test",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "etl_harness", "serve", "--pipeline", "worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stderr is not None
        for line in serve.stderr:
            if line.startswith("ready:"):
                break
        simulated = run(
            "simulate", "--limit", "200", "--speed-factor", "1e9", "--seed", "4", "--json", env=env
        )
        assert simulated.returncode == 0, simulated.stderr
        truth = json.loads(simulated.stdout)["groundTruth"]
        occupancy: dict[str, int] = {}
        for _ in range(100):  # each `etl status` is a process start: ~1 s
            status = json.loads(run("status", "--json", env=env).stdout)
            if status["unique_events"] == 200:
                break
        occupancy = json.loads(run("occupancy", "--json", env=env).stdout)
    finally:
        serve.terminate()
        serve.wait(30)
        assert serve.stderr is not None
        serve.stderr.close()
    assert occupancy == truth
    assert status["counters"]["deliveries"] >= 200
    analytics = json.loads(run("analytics", "--json", env=env).stdout)
    assert {svc: a["occupancy"] for svc, a in analytics.items()} == truth
    plot = tmp_path / "hourly.png"
    assert run("analytics", "--plot", str(plot), env=env).returncode == 0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_emulators_exec_runs_the_command_with_hosts_and_stops_what_it_started(
    tmp_path: Path,
) -> None:
    env = without_hosts(tmp_path)
    script = "echo $PUBSUB_EMULATOR_HOST $BIGTABLE_EMULATOR_HOST; exit 3"
    result = etl("emulators", "exec", "--", "sh", "-c", script, env=env)
    assert result.returncode == 3, result.stderr[-2000:]
    hosts = result.stdout.split()
    assert len(hosts) == 2
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", h) for h in hosts)
    import socket

    for host in hosts:
        port = int(host.split(":")[1])
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"{host} still answers"
