"""`etl record` and `etl publish --replay` refuse what they cannot do in one line, before any
client is made (exit 2): no emulator is needed here."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl_harness.cli.app import app

HOSTS = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "BIGTABLE_EMULATOR_HOST": "127.0.0.1:2"}
"""Set but never reached: every case below is refused before a client is made."""
RECORDING = (
    '{"etl_recording": 1, "project": "p", "topic": "acceso-events-dev"}\n'
    '{"data": "aGk=", "publish_time": "2026-11-30T12:00:00Z"}\n'
)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, env=HOSTS, prog_name="etl")
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return result.exit_code, result.stdout, lines[0]


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text(RECORDING)
    return path


def test_a_recording_published_without_replay_is_refused_with_the_flag_to_add(
    recorded: Path,
) -> None:
    code, stdout, line = run("publish", str(recorded))
    assert (code, stdout) == (2, "")
    assert line == (
        f"error: {recorded} is a recording of `etl record`; add --replay to publish its messages "
        "with their spacing, attributes and ordering keys"
    )


def test_a_recording_on_stdin_is_refused_too() -> None:
    code, _, line = run("publish", "-", stdin=RECORDING)
    assert code == 2
    assert line.startswith("error: <stdin> is a recording of `etl record`; add --replay")


def test_replay_of_a_file_etl_record_did_not_write_names_its_first_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"service": "acceso-sur"}\n')
    code, _, line = run("publish", str(events), "--replay")
    assert code == 2
    assert line.startswith(f"error: {events}:1: not a recording of `etl record`")


def test_replay_of_a_corrupt_line_names_the_file_and_line(recorded: Path) -> None:
    with recorded.open("a") as out:
        out.write('{"data": "aGk=", "publish_time": "yesterday"}\n')
    code, _, line = run("publish", str(recorded), "--replay")
    assert code == 2
    assert line.startswith(f"error: {recorded}:3: 'publish_time' is not an RFC 3339 time")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay", "--speed-factor", "0"], "error: --speed-factor must be > 0, got 0"),
        (["--replay", "--speed-factor", "-2"], "error: --speed-factor must be > 0, got -2"),
        (["--speed-factor", "2"], "error: --speed-factor goes with --replay"),
    ],
)
def test_a_bad_speed_factor_is_a_usage_error(recorded: Path, args: list[str], message: str) -> None:
    assert run("publish", str(recorded), *args)[::2] == (2, message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "r.jsonl", "--duration", "0"], "error: --duration must be > 0, got 0"),
        (
            ["--out", "r.jsonl", "--limit", "0"],
            "Invalid value for '--limit': Input should be greater than or equal to 1",
        ),
        (["--out", "nowhere/r.jsonl"], "error: folder 'nowhere' does not exist; --out writes a"),
        (["--out", "r.jsonl"] * 0, "Missing option '--out'"),
        (["--out", "r.jsonl"], "a topic name, not a path, is expected: 'projects/p/topics/t'"),
    ],
)
def test_record_refuses_what_it_cannot_do_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    topic = "projects/p/topics/t" if "not a path" in message else "acceso-events-dev"
    code, stdout, line = run("record", topic, *args)
    assert (code, stdout) == (2, "")
    assert message in line
    assert not (tmp_path / "r.jsonl").exists()
