"""Expected failures of `etl` end in one `error: …` line on stderr, exit 2 for usage and
configuration, 1 for failed work; never a traceback. No emulator is needed: each is refused
before any client is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl_harness.cli.app import app

NO_HOSTS = {"PUBSUB_EMULATOR_HOST": None, "BIGTABLE_EMULATOR_HOST": None, "ETL_TARGET": None}


def run(*args: str, **env: str | None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={**NO_HOSTS, **env}, prog_name="etl")
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["simulate"],
        ["publish", "-"],
        ["record", "acceso-events-dev", "--out", "recording.jsonl"],
        ["occupancy"],
        ["analytics"],
        ["dead-letters"],
        ["status"],
        ["rebuild"],
        ["reset"],
        ["inspect"],
        ["serve"],
    ],
)
def test_commands_that_talk_to_google_refuse_without_emulator_hosts_and_say_how_to_start_them(
    command: list[str],
) -> None:
    code, stdout, stderr = run(*command)
    line = one_error_line(stderr)
    assert code == 2
    assert stdout == ""
    assert "PUBSUB_EMULATOR_HOST and BIGTABLE_EMULATOR_HOST not set" in line
    assert "export $(etl emulators up)" in line
    assert "--cloud" in line


def test_one_missing_emulator_host_is_named() -> None:
    code, _, stderr = run("status", PUBSUB_EMULATOR_HOST="127.0.0.1:1")
    assert code == 2
    assert one_error_line(stderr).startswith("error: BIGTABLE_EMULATOR_HOST not set")


def test_cloud_with_emulator_hosts_set_is_a_contradiction() -> None:
    env = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "BIGTABLE_EMULATOR_HOST": "127.0.0.1:2"}
    code, _, stderr = run("status", "--cloud", **env)
    assert code == 2
    assert "--cloud, but emulator hosts are set" in one_error_line(stderr)


def test_reset_on_google_cloud_needs_yes() -> None:
    code, _, stderr = run("reset", "--cloud")
    assert code == 2
    line = one_error_line(stderr)
    assert "empties table incomingraw_dev of project local-project on Google Cloud" in line
    assert "add --yes to confirm" in line


def test_the_stage_option_wins_over_etl_stage() -> None:
    code, _, stderr = run("--stage", "test", "reset", "--cloud", ETL_STAGE="prod")
    assert code == 2
    assert "empties table incomingraw_test" in one_error_line(stderr)


def test_reset_with_etl_target_cloud_still_needs_yes() -> None:
    code, _, stderr = run("reset", ETL_TARGET="cloud")
    assert code == 2
    assert "add --yes" in one_error_line(stderr)


def test_an_unknown_stage_is_a_configuration_error() -> None:
    code, _, stderr = run("status", ETL_STAGE="staging")
    assert code == 2
    assert one_error_line(stderr) == (
        "error: ETL_STAGE must be one of dev, test, prod, got 'staging'"
    )


def test_an_unknown_target_is_a_configuration_error() -> None:
    code, _, stderr = run("status", ETL_TARGET="gcp")
    assert code == 2
    assert "ETL_TARGET must be one of emulators, cloud" in one_error_line(stderr)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--pipeline", "bogus"], "'bogus' is not one of 'current', 'fanout', 'worker'"),
        (["serve", "--pull", "fast"], "'fast' is not one of 'batch', 'streaming'"),
        (["demo", "--pipeline", "bogus"], "'bogus' is not one of 'current', 'fanout', 'worker'"),
        (["--stage", "staging", "status"], "'staging' is not one of 'dev', 'test', 'prod'"),
        (["--log-level", "loud", "status"], "'loud' is not one of"),
        (["nosuch"], "No such command 'nosuch'"),
        (["status", "--nosuch"], "No such option: --nosuch"),
    ],
)
def test_usage_errors_are_one_line_naming_the_help_and_exit_2(
    args: list[str], expected: str
) -> None:
    code, stdout, stderr = run(*args)
    line = one_error_line(stderr)
    assert code == 2
    assert stdout == ""
    assert expected in line
    assert "--help`)" in line


@pytest.mark.parametrize(
    ("source", "problem"),
    [("/nonexistent.jsonl", "does not exist"), ("/tmp", "is a directory")],
)
def test_publish_names_a_file_it_cannot_read(source: str, problem: str) -> None:
    code, _, stderr = run("publish", source)
    assert code == 2
    assert one_error_line(stderr) == (
        f"error: file {source!r} {problem}; publish reads a file, or - for stdin"
    )


def test_push_auth_for_the_worker_is_a_usage_error() -> None:
    code, _, stderr = run("serve", "--pipeline", "worker", "--require-push-auth")
    assert code == 2
    assert one_error_line(stderr) == (
        "error: --require-push-auth is for the shapes with functions (push), not worker"
    )


def test_the_choices_are_shown_in_help() -> None:
    code, stdout, _ = run("serve", "--help")
    assert code == 0
    assert "current|fanout|worker" in stdout
    assert "batch|streaming" in stdout
    assert "dev|test|prod" in run("--help")[1]


def test_the_choices_are_the_ones_the_pipeline_knows() -> None:
    from typing import get_args

    from etl.config import STAGES
    from etl.entrypoints.worker import PULL_MODES
    from etl_harness.cli import options as cli
    from etl_harness.serve import PIPELINES

    assert get_args(cli.Pipeline) == PIPELINES
    assert get_args(cli.Pull) == PULL_MODES
    assert get_args(cli.Stage) == STAGES


def test_the_choices_complete_in_the_shell() -> None:
    result = CliRunner().invoke(
        app,
        [],
        env={
            "_ETL_COMPLETE": "complete_bash",
            "COMP_WORDS": "etl serve --pipeline ",
            "COMP_CWORD": "3",
        },
        prog_name="etl",
    )
    assert set(result.stdout.split()) >= {"current", "fanout", "worker"}


def refused_plot(path: str) -> str:
    """`etl analytics --plot PATH`, refused as a usage error before any work: its one line."""
    code, _, stderr = run("analytics", "--plot", path)
    assert code == 2
    return one_error_line(stderr)


def test_plot_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    line = refused_plot("out.png")
    assert "--plot needs matplotlib" in line
    assert "pip install 'etl-pipeline[plot]'" in line


def test_demo_without_built_emulators_says_how_to_build_them(tmp_path: Path) -> None:
    code, _, stderr = run(
        "demo", ETL_STATE_DIR=str(tmp_path), ETL_EMULATORS_BIN=str(tmp_path / "nowhere")
    )
    assert code == 1
    assert "bash emulators/build.sh" in one_error_line(stderr)


def test_exec_without_a_command_is_a_usage_error() -> None:
    code, _, stderr = run("emulators", "exec")
    assert code == 2
    assert one_error_line(stderr) == ("error: nothing to run; etl emulators exec -- CMD [ARGS...]")


def test_version_and_short_help() -> None:
    code, stdout, _ = run("--version")
    assert code == 0
    assert stdout.startswith("etl ")
    code, stdout, _ = run("reset", "-h")
    assert code == 0
    assert "--yes" in stdout


def test_flags_show_no_type_in_help() -> None:
    for args in (["--help"], ["reset", "--help"], ["emulators", "up", "--help"]):
        code, stdout, _ = run(*args)
        assert code == 0
        assert "<bool>" not in stdout, args
        assert "<int>" not in stdout, "-v counts, it takes no value"
        assert "`" not in stdout, f"raw backticks in {args}"


def test_init_writes_a_starter_etl_toml_that_is_then_found_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_harness import etl_toml

    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run("init", "--json")
    assert code == 0
    assert json.loads(stdout) == {"wrote": "etl.toml"}
    assert etl_toml.find(None, tmp_path) == tmp_path / "etl.toml"
    assert etl_toml.load(tmp_path / "etl.toml").stages
    code, _, stderr = run("init")
    assert code == 2
    assert one_error_line(stderr) == (
        "error: etl.toml exists; edit it, or pass --force to overwrite it"
    )
    assert run("init", "--force")[0] == 0


def test_emulator_hosts_where_nothing_listens_are_refused_at_once_not_retried_forever() -> None:
    hosts = {"PUBSUB_EMULATOR_HOST": f"127.0.0.1:{closed_port()}"}
    hosts["BIGTABLE_EMULATOR_HOST"] = f"127.0.0.1:{closed_port()}"
    for command in (["occupancy"], ["simulate", "--limit", "1"], ["status"]):
        code, stdout, stderr = run(*command, **hosts)
        line = one_error_line(stderr)
        assert (code, stdout) == (1, "")
        assert line.startswith(
            f"error: nothing answers at PUBSUB_EMULATOR_HOST={hosts['PUBSUB_EMULATOR_HOST']} "
            f"and BIGTABLE_EMULATOR_HOST={hosts['BIGTABLE_EMULATOR_HOST']}"
        )
        assert "export $(etl emulators up)" in line


def test_a_plot_matplotlib_cannot_write_is_refused_before_any_work() -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    line = refused_plot("out.txt")
    assert "matplotlib cannot write .txt" in line
    assert ".png" in line


def test_init_into_a_folder_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "etl.toml"
    code, _, stderr = run("init", str(target))
    assert code == 2
    assert one_error_line(stderr) == (f"error: cannot write {target}: No such file or directory")


@pytest.mark.parametrize("command", [[], ["emulators"]])
def test_a_group_without_a_command_prints_its_help_once(command: list[str]) -> None:
    code, stdout, _ = run(*command)
    assert code == 2
    assert stdout.count("Usage: etl") == 1, stdout


def closed_port() -> int:
    """A port nothing listens on: bound, then released (the kernel does not hand it out again at
    once)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
