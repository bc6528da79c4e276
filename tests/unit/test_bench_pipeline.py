"""The pipeline bench's own arithmetic: which shapes `--only-shapes` runs, and how each run's CPU
per 1,000 events and process rates are keyed in bench-results.json."""

from __future__ import annotations

import argparse

import pytest

from bench.pipeline import Run, cpu_keys, function_keys, shapes_list


def test_only_shapes_takes_known_shapes_comma_separated() -> None:
    assert shapes_list("current, fanout") == ("current", "fanout")


@pytest.mark.parametrize("text", ["", "pull", "current,pull"])
def test_only_shapes_refuses_an_unknown_or_empty_list(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="shapes are current, fanout, worker"):
        shapes_list(text)


def test_cpu_and_process_keys_hold_every_run() -> None:
    runs = {
        "current x1": Run(200.0, 0.0, 3.0, {"process 1": 3.0, "pubsub emulator": 0.6}),
        "current x2": Run(180.0, 0.0, 4.0, {"process 1": 2.0, "process 2": 2.0}),
        "worker": Run(2000.0, 0.0, 1.0),
    }
    cpu = cpu_keys(runs)
    assert cpu["cpu_s_per_1000_events"] == {"current x1": 3.0, "current x2": 4.0, "worker": 1.0}
    assert cpu["cpu_s_per_1000_events_by_process"]["current x1"]["pubsub emulator"] == 0.6
    assert "worker" not in cpu["cpu_s_per_1000_events_by_process"]  # measured without processes
    assert function_keys(runs, ["current"]) == {
        "function_processes_events_per_s": {"current": {"1": 200.0, "2": 180.0}}
    }
