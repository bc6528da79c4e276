"""The worker's production process, `python -m etl.entrypoints.worker`, run from the deployed file
set alone (serverless.yml's patterns: `main.py`, `etl/`, `etl_core/`, requirements.txt) with
`etl_harness` and the tests not importable: it processes exactly, answers its health check, and
on SIGTERM finishes or nacks what it holds and exits 0, so a restart loses nothing."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_core import is_event_key
from tests.deploy.fileset import copy_deployed
from tests.e2e.faults import Rig, assert_exact, simulation, wait_settled, wait_until

BOOT = """\
import importlib.abc, runpy, sys

class NotDeployed(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("etl_harness", "tests", "bench"):
            raise ModuleNotFoundError(f"{name} is not in the deployed file set", name=name)
        return None

sys.meta_path.insert(0, NotDeployed())
sys.path.insert(0, sys.argv.pop(1))
import etl, etl_core
for module in (etl, etl_core):
    assert module.__file__.startswith(sys.path[0]), module.__file__
runpy.run_module("etl.entrypoints.worker", run_name="__main__", alter_sys=True)
"""
"""Runs the worker from the file set given as its first argument; the local tooling and the
tests cannot be imported (the editable install would otherwise provide them)."""

STOP_S = 10.0
"""Cloud Run's grace period after SIGTERM."""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_deployed(tmp_path_factory.mktemp("deployed"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def health(port: int) -> int | None:
    """The status of GET /healthz, or None while nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@contextlib.contextmanager
def worker_process(
    rig: Rig, deployed: Path, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The deployed worker, configured as Cloud Run configures it (environment only)."""
    boot = log.parent / "boot.py"
    boot.write_text(BOOT)
    env = {
        "PATH": os.environ["PATH"],
        "GOOGLE_CLOUD_PROJECT": rig.settings.project,
        "ETL_STAGE": rig.settings.stage,
        "PUBSUB_EMULATOR_HOST": os.environ["PUBSUB_EMULATOR_HOST"],
        "BIGTABLE_EMULATOR_HOST": os.environ["BIGTABLE_EMULATOR_HOST"],
        "PORT": str(port),
        "ETL_HEALTH_HOST": "127.0.0.1",
    }
    with log.open("ab") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(boot), str(deployed)],
            cwd=deployed,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_until(lambda: health(port) == 200 or proc.poll() is not None, 60, "health 200")
        assert proc.poll() is None, log.read_text()[-3000:]
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stored(rig: Rig) -> int:
    return sum(1 for key, _ in rig.table.all_rows() if is_event_key(key))


def test_the_deployed_worker_is_exact_and_stops_on_sigterm_losing_nothing(
    rig: Rig, deployed: Path
) -> None:
    settings = rig.settings
    first, second = simulation(limit=300, seed=71), simulation(limit=1500, seed=72)
    log = rig.logs / "worker.log"
    port = free_port()
    with worker_process(rig, deployed, port, log) as proc:
        rig.bus.publish_events(settings.events_topic, first.events)
        wait_settled(rig.table, first.events, hourly=True)
        rig.bus.publish_events(settings.events_topic, second.events)
        wait_until(lambda: stored(rig) > len(first.events), 60, "the second lot begun")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(3 * STOP_S)  # bounded generously: the machine is shared
        stopped_in = time.monotonic() - signalled
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert '"message": "worker stopped"' in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    print(f"stopped {stopped_in:.2f} s after SIGTERM")

    with worker_process(rig, deployed, free_port(), log):
        wait_settled(rig.table, [*first.events, *second.events], hourly=True)
    assert_exact(settings, rig.table, [*first.events, *second.events], hourly=True)


def test_a_configuration_mistake_is_one_line_and_status_2(rig: Rig, deployed: Path) -> None:
    boot = rig.logs / "boot.py"
    boot.write_text(BOOT)
    done = subprocess.run(
        [sys.executable, str(boot), str(deployed)],
        cwd=deployed,
        env={"PATH": os.environ["PATH"], "ETL_STAGE": "staging"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "error: ETL_STAGE must be one of dev, test, prod, got 'staging'"
    )
    assert len(done.stderr.splitlines()) == 1, done.stderr
