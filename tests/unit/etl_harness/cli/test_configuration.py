"""`etl` builds its configuration once, at its entry point (the root callback), from the process's
environment and the global options, and passes it down through the click context: `--stage`
reaches the commands and the processes they start without being written into `os.environ`."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from etl.config import Settings
from etl_harness.cli import options
from etl_harness.cli.app import app
from etl_harness.cli.options import Configuration


def test_the_stage_option_wins_over_the_environment_and_children_get_it() -> None:
    config = Configuration({"ETL_STAGE": "prod", "GOOGLE_CLOUD_PROJECT": "p"}, stage="test")
    assert (config.local.settings.stage, config.local.settings.project) == ("test", "p")
    child = config.child_environment({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"})
    assert child == {
        "ETL_STAGE": "test",
        "GOOGLE_CLOUD_PROJECT": "p",
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:1",
    }


def test_without_the_option_the_stage_is_the_pipelines_default() -> None:
    config = Configuration({})
    assert config.local.settings.stage == Settings().stage == "dev"
    assert config.child_environment({}) == {}


def test_the_configuration_is_built_once_and_later_environment_changes_do_not_reach_it() -> None:
    environ = {"ETL_STAGE": "test"}
    config = Configuration(environ)
    first = config.local
    environ["ETL_STAGE"] = "prod"
    assert config.local is first
    assert config.local.settings.stage == "test"


def test_a_bad_variable_fails_only_the_commands_that_read_the_configuration() -> None:
    config = Configuration({"ETL_STAGE": "staging"})
    assert config.child_environment({}) == {"ETL_STAGE": "staging"}
    with pytest.raises(ValueError, match="ETL_STAGE must be one of"):
        _ = config.local


def test_every_command_gets_the_configuration_the_callback_built_and_environ_is_untouched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ETL_STAGE", raising=False)
    built: list[Configuration] = []
    original = options.from_process

    def recording(stage: str | None) -> Configuration:
        built.append(original(stage))
        return built[-1]

    monkeypatch.setattr("etl_harness.cli.app.from_process", recording)
    seen: list[object] = []

    @app.command("probe-configuration", hidden=True)
    def probe() -> None:
        seen.append(options.configured())
        seen.append(options.configured())

    try:
        result = CliRunner().invoke(app, ["--stage", "test", "probe-configuration"])
    finally:
        app.registered_commands.pop()
    assert result.exit_code == 0, result.output
    assert len(built) == 1
    assert seen[0] is seen[1] is built[0].local
    assert built[0].local.settings.stage == "test"
    assert "ETL_STAGE" not in os.environ
