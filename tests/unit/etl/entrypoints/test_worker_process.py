"""The worker's process around its pull loop: configuration from the environment, exit status."""

from __future__ import annotations

import gc
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.config import InvalidConfig, Settings
from etl.entrypoints import worker
from etl.entrypoints.worker import Process


def test_the_environment_configures_the_pipeline_and_the_health_check() -> None:
    process = Process.from_env(
        {"ETL_STAGE": "prod", "GOOGLE_CLOUD_PROJECT": "acme", "PORT": "8080"}
    )
    assert process == Process(Settings(project="acme", stage="prod"), 8080, "0.0.0.0")


def test_without_port_there_is_no_health_check() -> None:
    assert Process.from_env({}).health_port is None


@given(st.text(min_size=1).filter(lambda t: not (t.isdigit() and int(t) <= 65535)))
def test_a_port_that_is_no_tcp_port_is_refused(port: str) -> None:
    with pytest.raises(InvalidConfig, match="PORT must be a TCP port number"):
        Process.from_env({"PORT": port})


def test_a_configuration_mistake_is_one_line_on_stderr_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert worker.main({"PORT": "http"}) == 2
    assert capsys.readouterr().err == "error: PORT must be a TCP port number, got 'http'\n"


def test_a_loop_stopped_on_request_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    def run(settings: Settings, stop: threading.Event) -> None:
        stop.wait()

    monkeypatch.setattr(worker, "run", run)
    stop = threading.Event()
    stop.set()
    assert worker.serve(Process(Settings()), stop) == 0


def test_a_loop_that_dies_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def run(settings: Settings, stop: threading.Event) -> None:
        raise ConnectionError("pubsub unavailable")

    monkeypatch.setattr(worker, "run", run)
    assert worker.serve(Process(Settings()), threading.Event()) == 1


def test_the_start_up_heap_is_frozen_while_the_loop_runs_and_given_back_after() -> None:
    held = [object()]  # alive before the loop, as the wired clients are
    with worker.start_up_heap_frozen():
        assert gc.get_freeze_count() >= len(held)
        assert not any(o is held for o in gc.get_objects())
    assert gc.get_freeze_count() == 0
    assert any(o is held for o in gc.get_objects())
