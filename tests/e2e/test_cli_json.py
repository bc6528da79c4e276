"""`--json` on every command that reports: valid JSON alone on stdout, nothing from the libraries
on stderr (no Bigtable emulator warning, no access log, no pipeline log lines) by default."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from etl_harness.emulators.pair import Hosts
from tests.e2e.cli import etl

CHATTER = ("Connecting to Bigtable emulator", "RuntimeWarning", '"severity"', "HTTP/1.1")


def etl_json(*args: str, env: dict[str, str], code: int = 0) -> Any:
    """Run `etl ARGS --json`; its stdout parsed, after checking stderr holds no library chatter."""
    result = etl(*args, "--json", env=env)
    assert result.returncode == code, result.stderr[-2000:]
    assert not [c for c in CHATTER if c in result.stderr], result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture
def env(etl_emulator_hosts: Hosts, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **etl_emulator_hosts.env(),
        "GOOGLE_CLOUD_PROJECT": f"json-{tmp_path.name[-12:]}",
        "ETL_STAGE": "test",
    }


def test_every_reporting_command_prints_json_alone_on_stdout(
    env: dict[str, str], tmp_path: Path
) -> None:
    simulated = etl_json("simulate", "--limit", "40", "--speed-factor", "1e9", env=env)
    assert simulated["published"] == 40
    assert set(simulated["groundTruth"])
    lines = tmp_path / "recorded.jsonl"
    lines.write_text('{"not": "an event"}\n\nnot json either\n')
    assert etl_json("publish", str(lines), env=env) == {"published": 2}
    assert etl_json("occupancy", env=env) == {}, "nothing served the events: no status rows"
    assert etl_json("analytics", env=env) == {}
    assert etl_json("rebuild", env=env) == {}
    status = etl_json("status", env=env)
    assert set(status) >= {"counters", "services", "dead_letters", "duplicates"}
    assert etl_json("dead-letters", env=env) == []
    assert etl_json("emulators", "seed", env=env) == {
        "project": env["GOOGLE_CLOUD_PROJECT"],
        "stages": ["dev", "test"],
    }
    emptied = etl_json("reset", env=env)
    assert emptied == {
        "emptied": True,
        "project": env["GOOGLE_CLOUD_PROJECT"],
        "table": "incomingraw_test",
    }
    everything = etl_json("reset", "--all", env=env)
    assert everything["project"] == env["GOOGLE_CLOUD_PROJECT"]
    assert set(everything["deleted"]) == {"subscriptions", "topics", "tables"}


def test_an_unknown_service_is_said_so_and_exits_1(env: dict[str, str]) -> None:
    etl_json("emulators", "seed", env=env)
    result = etl("occupancy", "--service", "nosuch", "--json", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "error: unknown service 'nosuch' (stored: none yet)\n"


def test_emulators_up_status_down_report_in_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env["ETL_STATE_DIR"] = str(tmp_path)
    up = etl_json("emulators", "up", env=env)
    try:
        assert set(up["env"]) == {
            "PUBSUB_EMULATOR_HOST",
            "BIGTABLE_EMULATOR_HOST",
            "ETL_PUBSUB_ADMIN_HOST",
        }
        assert set(up["emulators"]) == {"pubsub", "bigtable"}
        status = etl_json("emulators", "status", env=env)
        assert {name: row["up"] for name, row in status.items()} == {
            "pubsub": True,
            "bigtable": True,
        }
        assert status["pubsub"]["address"] == up["env"]["PUBSUB_EMULATOR_HOST"]
    finally:
        down = etl_json("emulators", "down", env=env)
    assert {r["pid"] for r in down["stopped"]} == {r["pid"] for r in up["emulators"].values()}
    assert down["forgotten"] == []
    after = etl_json("emulators", "status", env=env, code=1)
    assert after == {"pubsub": {"up": False}, "bigtable": {"up": False}}


def test_an_emulator_that_died_shows_as_down_at_once(tmp_path: Path) -> None:
    """`kill -9` of a running emulator: the next `status` says so (a real RPC each time), exit 1."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env["ETL_STATE_DIR"] = str(tmp_path)
    up = etl_json("emulators", "up", env=env)
    try:
        os.kill(up["emulators"]["pubsub"]["pid"], signal.SIGKILL)
        status = etl_json("emulators", "status", env=env, code=1)
        assert {name: row["up"] for name, row in status.items()} == {
            "pubsub": False,
            "bigtable": True,
        }
    finally:
        etl_json("emulators", "down", env=env)
