"""`etl emulators up --import/--export-on-exit`, `export` and `logs`: what they check before
anything starts, and how logs are followed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl_harness.cli.app import app
from etl_harness.cli.emulator_state import BadStateDir, export_dir, follow, import_dir, prefixed
from etl_harness.emulators.native import Launch, argv
from etl_harness.emulators.pair import BIGTABLE, PUBSUB


def exported(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).mkdir(parents=True)
        (folder / name / "manifest.json").write_text("{}")
    return folder


def test_an_import_directory_needs_each_emulators_export(tmp_path: Path) -> None:
    assert import_dir(str(exported(tmp_path, "pubsub", "bigtable"))) == tmp_path.resolve()
    with pytest.raises(BadStateDir, match="no such directory"):
        import_dir(str(tmp_path / "absent"))


def test_an_import_directory_without_one_emulators_export_names_it(tmp_path: Path) -> None:
    with pytest.raises(BadStateDir, match="no export of the bigtable emulator"):
        import_dir(str(exported(tmp_path, "pubsub")))


def test_an_export_directory_is_made_absolute_and_may_not_exist_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert export_dir("later") == tmp_path.resolve() / "later"
    (tmp_path / "file").write_text("")
    with pytest.raises(BadStateDir, match="is not a directory"):
        export_dir("file")


def test_each_emulator_gets_its_own_state_directory_in_its_argv(tmp_path: Path) -> None:
    launch = Launch(
        import_dir=tmp_path / "in", export_on_exit=tmp_path / "out", bigtable_admin_port=9
    )
    pubsub = argv(PUBSUB, Path("ps"), "h", 1, launch)
    bigtable = argv(BIGTABLE, Path("bt"), "h", 2, launch)
    assert f"--import={tmp_path}/in/pubsub" in pubsub
    assert f"--export-on-exit={tmp_path}/out/pubsub" in pubsub
    assert f"--import={tmp_path}/in/bigtable" in bigtable
    assert f"--export-on-exit={tmp_path}/out/bigtable" in bigtable
    assert "--admin-port=9" in bigtable
    assert not any(arg.startswith("--admin-port") for arg in pubsub)


def test_following_prints_whole_lines_prefixed_until_the_emulators_stop(tmp_path: Path) -> None:
    (tmp_path / "pubsub.log").write_text("ready\npart")
    (tmp_path / "bigtable.log").write_text("")
    writes = iter(["pubsub.log:ial\nnext\n", "bigtable.log:last, unterminated"])
    rounds = iter([True, True, False])
    out: list[str] = []

    def wait() -> None:  # an emulator writes between two rounds
        name, text = next(writes).split(":", 1)
        with (tmp_path / name).open("a") as log:
            log.write(text)

    with (tmp_path / "pubsub.log").open() as p, (tmp_path / "bigtable.log").open() as b:
        follow({"pubsub": p, "bigtable": b}, lambda: next(rounds), out.append, wait)
    assert out == [
        prefixed("pubsub", "ready"),
        prefixed("pubsub", "partial"),
        prefixed("pubsub", "next"),
        "bigtable | last, unterminated",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["logs", "redis"], "error: unknown emulator 'redis': pubsub or bigtable"),
        (["up", "--import", "/nonexistent/state"], "error: --import /nonexistent/state: no such"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["emulators", *args], env={"ETL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(message)


def test_export_without_emulators_says_where_to_find_them_and_exits_2(tmp_path: Path) -> None:
    env = {"ETL_STATE_DIR": str(tmp_path), "ETL_PUBSUB_ADMIN_HOST": ""}
    result = CliRunner().invoke(app, ["emulators", "export", str(tmp_path / "out")], env=env)
    assert result.exit_code == 2
    assert "error: no admin API of the pubsub and bigtable emulator" in result.output


def test_logs_without_emulators_recorded_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["emulators", "logs"], env={"ETL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "no emulators recorded" in result.output
