"""What `etl` writes where, without emulators: `--json` parses, people read stderr, and the
errors of Google's clients are one line too."""

from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from etl_harness.cli import errors, output
from etl_harness.cli.app import app


def test_emulators_status_and_down_report_json_with_nothing_recorded(tmp_path: Path) -> None:
    env = {"ETL_STATE_DIR": str(tmp_path)}
    status = CliRunner().invoke(app, ["emulators", "status", "--json"], env=env)
    assert status.exit_code == 1
    assert json.loads(status.stdout) == {"pubsub": {"up": False}, "bigtable": {"up": False}}
    down = CliRunner().invoke(app, ["emulators", "down", "--json"], env=env)
    assert down.exit_code == 0
    assert json.loads(down.stdout) == {"stopped": [], "forgotten": []}


def test_emulators_status_without_json_has_a_header(tmp_path: Path) -> None:
    (tmp_path / "emulators.json").write_text(
        json.dumps(
            {"pubsub": {"name": "pubsub", "pid": 1, "host": "127.0.0.1", "port": 9, "log": "x.log"}}
        )
    )
    result = CliRunner().invoke(app, ["emulators", "status"], env={"ETL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "emulator\tstate\taddress\tpid\tlog",
        "pubsub\tdown\t127.0.0.1:9\t1\tx.log",
        "bigtable\tdown\t-\t-\t-",
    ]


def test_no_progress_when_stdout_is_not_a_terminal_or_under_json() -> None:
    # pytest captures stdout: not a terminal
    assert not output.shows_progress(as_json=False)
    assert not output.shows_progress(as_json=True)


def at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stdout and stderr a terminal, as for a person; what stderr shows is returned."""
    shown = io.StringIO()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    console = Console(file=shown, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(output, "human", console)
    return shown


def test_at_a_terminal_a_bar_counts_the_work_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = at_a_terminal(monkeypatch)
    assert output.shows_progress(as_json=False)
    with output.progress("publishing", 40, as_json=False) as advance:
        for _ in range(4):
            advance(10)
    assert "publishing" in shown.getvalue()
    assert "40/40" in shown.getvalue()


def test_at_a_terminal_json_still_gets_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = at_a_terminal(monkeypatch)
    with output.progress("publishing", 40, as_json=True) as advance:
        advance(40)
    with output.working("reading", as_json=True):
        pass
    assert shown.getvalue() == ""


def test_the_bigtable_emulator_warning_is_silenced_unless_debugging() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        output.quiet_libraries("warning")
        warnings.warn("Connecting to Bigtable emulator at x", RuntimeWarning, stacklevel=1)
        warnings.warn("something else", RuntimeWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else"]


def test_werkzeug_access_log_only_at_debug() -> None:
    import logging

    output.quiet_libraries("info")
    assert logging.getLogger("werkzeug").level == logging.WARNING
    output.quiet_libraries("debug")
    assert logging.getLogger("werkzeug").level == logging.DEBUG
    output.quiet_libraries("warning")


def test_google_client_errors_are_one_line_failures() -> None:
    from google.api_core.exceptions import NotFound

    line, code = errors.classify(NotFound("table t not found\\nmore detail")) or ("", 0)
    assert code == errors.FAILED
    assert line.startswith("Pub/Sub or Bigtable answered NotFound: 404 table t not found")


def test_missing_google_credentials_say_how_to_log_in_or_use_the_emulators() -> None:
    from google.auth.exceptions import DefaultCredentialsError

    line, code = errors.classify(DefaultCredentialsError("long text\nmore")) or ("", 0)
    assert code == errors.FAILED
    assert "gcloud auth application-default login" in line
    assert "export $(etl emulators up)" in line


def test_fail_builds_the_one_line_error_for_either_kind() -> None:
    from etl_harness.cli.options import fail

    assert errors.classify(fail("no such emulator")) == ("no such emulator", errors.FAILED)
    assert errors.classify(fail("bad flag", 2)) == ("bad flag", errors.USAGE)


def test_a_bug_is_not_classified() -> None:
    assert errors.classify(KeyError("x")) is None
