"""`etl emulators faults`: its options become the emulator's faults, or one line and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from etl_harness.cli.app import app
from etl_harness.cli.faults import (
    BadOptions,
    FaultOptions,
    describe,
    requested,
    status_line,
    subscription_path,
)
from etl_harness.faults import Faults


def test_options_become_the_faults_the_admin_api_takes() -> None:
    options = FaultOptions(duplicate="0.1", delay_ms="0,500", shuffle=True, seed="7")
    assert options.faults() == Faults(
        duplicate=0.1, delay_ms=(0, 500), delay_fraction=1.0, shuffle=True, seed=7
    )
    assert options.faults().as_json() == {
        "duplicate": 0.1,
        "delay_ms": [0, 500],
        "delay_fraction": 1.0,
        "shuffle": True,
        "seed": 7,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (FaultOptions(duplicate="lots"), "--duplicate must be a number 0-1, got 'lots'"),
        (FaultOptions(push_error="1.5"), "--push-error must be 0-1, got 1.5"),
        (
            FaultOptions(transient_ack_failure="2"),
            "--transient-ack-failure must be 0-1, got 2",
        ),
        (FaultOptions(delay_ms="5"), "--delay-ms must be LO,HI in ms, got 1 numbers"),
        (FaultOptions(delay_ms="a,b"), "--delay-ms must be LO,HI in milliseconds, got 'a,b'"),
        (FaultOptions(delay_ms="9,1"), "--delay-ms must be LO,HI with 0 <= low <= high <= 300000"),
        (FaultOptions(delay_fraction="0.5"), "--delay-fraction needs --delay-ms LO,HI"),
        (FaultOptions(seed="x"), "--seed must be an integer, got 'x'"),
    ],
)
def test_each_impossible_option_is_refused_in_the_options_words(
    options: FaultOptions, message: str
) -> None:
    with pytest.raises(BadOptions) as caught:
        options.faults()
    assert str(caught.value).startswith(message)


def test_a_name_is_taken_in_the_project_and_a_path_as_it_is() -> None:
    assert subscription_path("worker-dev", "p") == "projects/p/subscriptions/worker-dev"
    assert subscription_path("projects/q/subscriptions/s", "p") == "projects/q/subscriptions/s"
    for bad in ("projects/q/topics/t", "a/b", "projects/q/subscriptions/"):
        with pytest.raises(BadOptions, match="is not a subscription name"):
            subscription_path(bad, "p")


def test_no_subscription_lists_and_a_bare_subscription_shows() -> None:
    assert requested(None, False, FaultOptions(), "p") == (None, None)
    assert requested("s", False, FaultOptions(), "p") == ("projects/p/subscriptions/s", None)
    assert requested("s", True, FaultOptions(), "p") == ("projects/p/subscriptions/s", None)


def test_fault_options_need_a_subscription_and_off_goes_alone() -> None:
    with pytest.raises(BadOptions, match="need a SUBSCRIPTION"):
        requested(None, False, FaultOptions(shuffle=True), "p")
    with pytest.raises(BadOptions, match="need a SUBSCRIPTION"):
        requested(None, True, FaultOptions(), "p")
    with pytest.raises(BadOptions, match=r"--off .* alone"):
        requested("s", True, FaultOptions(duplicate="0.1"), "p")


def test_a_status_reads_as_one_line_with_its_counts() -> None:
    status = {
        "subscription": "projects/p/subscriptions/worker-test",
        "faults": {"duplicate": 0.1, "delay_ms": [0, 500], "delay_fraction": 0.25,
                   "shuffle": True, "push_error": 0, "early_redelivery": 0, "seed": 7},
        "fired": {"duplicate": 3, "delay": 1, "shuffle": 12, "push_error": 0,
                  "early_redelivery": 0},
        "held": 2,
    }  # fmt: skip
    assert status_line(status, "p") == (
        "worker-test\tduplicate=0.1 delay=0-500ms@0.25 shuffle seed=7\t"
        "fired duplicate=3 delay=1 shuffle=12 push_error=0 early_redelivery=0"
        " transient_ack_failure=0\theld 2"
    )
    assert describe(None) == "off"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sub", "--duplicate", "2"], "error: --duplicate must be 0-1, got 2"),
        (["--shuffle"], "error: fault options need a SUBSCRIPTION"),
        (["sub", "--off", "--shuffle"], "error: --off turns every fault off"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args: list[str], message: str) -> None:
    env = {"ETL_PUBSUB_ADMIN_HOST": "127.0.0.1:1"}  # never reached
    result = CliRunner().invoke(app, ["emulators", "faults", *args], env=env)
    assert result.exit_code == 2
    assert result.output.strip().startswith(message)


def test_without_an_admin_api_it_says_where_to_find_one_and_exits_2(tmp_path: object) -> None:
    env = {"ETL_PUBSUB_ADMIN_HOST": "", "ETL_STATE_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["emulators", "faults"], env=env)
    assert result.exit_code == 2
    assert "error: no Pub/Sub admin API" in result.output
