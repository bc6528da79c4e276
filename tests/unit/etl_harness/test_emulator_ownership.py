"""`etl emulators down|up` signal a recorded pid only while it still runs the emulator we started
(same executable, same start time): after a reboot that pid can be anyone's."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from etl_harness.emulators import native, state
from etl_harness.emulators.pair import Running


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process this test started, standing in for whatever later got the recorded pid."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    proc = subprocess.Popen([sleep, "60"])
    yield proc
    proc.kill()
    proc.wait()


def recorded(proc: subprocess.Popen[bytes]) -> Running:
    found = native.identity(proc.pid)
    assert found is not None
    exe, started = found
    return Running("pubsub", proc.pid, "127.0.0.1", 1, "log", None, exe, started)


def test_the_process_we_recorded_is_ours(stranger: subprocess.Popen[bytes]) -> None:
    assert native.is_ours(recorded(stranger))


def test_another_start_time_or_executable_is_not_ours(stranger: subprocess.Popen[bytes]) -> None:
    ours = recorded(stranger)
    assert ours.started is not None
    assert not native.is_ours(replace(ours, started=ours.started - 3600))
    assert not native.is_ours(replace(ours, exe="/usr/bin/pubsub-emulator"))


def test_a_record_without_identity_is_never_trusted(stranger: subprocess.Popen[bytes]) -> None:
    assert not native.is_ours(replace(recorded(stranger), exe=None, started=None))


def test_stop_leaves_a_process_that_is_not_ours_alone(stranger: subprocess.Popen[bytes]) -> None:
    ours = recorded(stranger)
    assert ours.started is not None
    assert native.stop(replace(ours, started=ours.started + 5)) is False
    assert stranger.poll() is None, "the stranger still runs"
    assert native.stop(ours) is True
    assert stranger.wait(5) is not None


def test_down_forgets_a_recorded_pid_that_runs_something_else(
    stranger: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    old = replace(recorded(stranger), exe=str(tmp_path / "pubsub-emulator"))
    state.state_file(tmp_path).write_text(json.dumps({"pubsub": asdict(old)}))
    stopped, forgotten = state.down(tmp_path)
    assert stopped == []
    assert forgotten == [old]
    assert stranger.poll() is None
    assert not state.state_file(tmp_path).exists()
