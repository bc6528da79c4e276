"""What every command shares: the choice types and common options, the configuration read at
this entry point, and the guard that keeps commands off Google Cloud unless asked."""

from __future__ import annotations

import functools
import os
import socket
from collections import ChainMap
from collections.abc import Mapping
from typing import Annotated, Literal

import typer
from typer._click.globals import get_current_context

from etl_harness.cli.errors import CliError, UsageProblem
from etl_harness.local import Local
from etl_harness.local import from_env as local_from_env

Pipeline = Literal["current", "fanout", "worker"]
"""`etl_harness.serve.PIPELINES` (a unit test keeps them equal)."""
Pull = Literal["batch", "streaming"]
"""`etl.entrypoints.worker.PULL_MODES` (a unit test keeps them equal)."""
Stage = Literal["dev", "test", "prod"]
"""`etl.config.STAGES` (a unit test keeps them equal)."""
Level = Literal["debug", "info", "warning", "error"]

ServiceOpt = Annotated[str | None, typer.Option("--service", help="Only this service.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output, alone on stdout.")]
CloudOpt = Annotated[
    bool,
    typer.Option(
        "--cloud",
        help="Talk to Google Cloud (no emulator hosts set); also `ETL_TARGET=cloud`.",
    ),
]
PipelineOpt = Annotated[Pipeline, typer.Option(help="The pipeline shape.")]
STDIN = "<stdin>"
"""How errors name `-` (`<stdin>:3: …`)."""


class Configuration:
    """The CLI's configuration, built once at its entry point (the root callback, which keeps it
    as the click context's `obj`) from this process's environment and the global options
    (`etl --stage test …`), and passed down to every command through that context object
    (`configuration()`); nothing below reads the environment again.

    `local` is built on first use, then kept: a command that needs no configuration (`init`, a
    `--help`) never fails on a bad variable. The stage's default is the pipeline's own
    (`etl.config`: `dev`), the same one the pytest plugin uses.
    """

    def __init__(self, environ: Mapping[str, str], stage: str | None = None) -> None:
        self._options = {"ETL_STAGE": stage} if stage else {}
        self._variables = dict(environ)

    @functools.cached_property
    def local(self) -> Local:
        return local_from_env(ChainMap(self._options, self._variables))

    def child_environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The environment of a process the CLI starts: its own, `extra` (emulator hosts), and
        what the global options set (`--stage`), so the child builds the same configuration."""
        return {**self._variables, **extra, **self._options}


def from_process(stage: str | None) -> Configuration:
    """The configuration of this process: its environment (the CLI is an entry point) and the
    global options."""
    return Configuration(os.environ, stage)


def configuration() -> Configuration:
    """The configuration the root callback built for the command that runs: the context
    object of `etl`'s click context, which click hands down to every subcommand's context."""
    built = get_current_context().find_root().obj
    if not isinstance(built, Configuration):
        raise TypeError("etl's callback builds the configuration before any command runs")
    return built


def configured() -> Local:
    """`configuration().local`: the harness configuration every command works with."""
    return configuration().local


def fail(message: str, code: int = 1) -> CliError:
    """`raise fail(message, code)`: an expected failure, said in one line (exit 2: usage)."""
    return UsageProblem(message) if code == 2 else CliError(message)


def on_target(cloud: bool = False, *, answering: bool = True) -> Local:
    """`configured()`, refusing to reach Google Cloud unless the user said so, and (`answering`)
    emulator hosts where nothing listens: the clients would retry them without end."""
    local = configured()
    settings = local.settings
    hosts = {
        "PUBSUB_EMULATOR_HOST": settings.pubsub_emulator_host,
        "BIGTABLE_EMULATOR_HOST": settings.bigtable_emulator_host,
    }
    missing = [name for name, host in hosts.items() if not host]
    if cloud and len(missing) < len(hosts):
        raise UsageProblem(
            "--cloud, but emulator hosts are set",
            "unset PUBSUB_EMULATOR_HOST and BIGTABLE_EMULATOR_HOST to reach Google Cloud",
        )
    if missing and not (cloud or local.cloud):
        raise UsageProblem(
            f"{' and '.join(missing)} not set, so this would reach Google Cloud",
            "start the emulators with `export $(etl emulators up)`, "
            "or pass --cloud (or set ETL_TARGET=cloud) to mean Google Cloud",
        )
    if answering:
        silent = [f"{name}={host}" for name, host in hosts.items() if host and not _listens(host)]
        if silent:
            raise CliError(
                f"nothing answers at {' and '.join(silent)}",
                "start the emulators with `export $(etl emulators up)` (`etl emulators status` "
                "says which are up)",
            )
    return local


def _listens(host: str, timeout: float = 2.0) -> bool:
    """True when a TCP connection to `host` (`name:port`, `[v6]:port`) is accepted."""
    name, _, port = host.rpartition(":")
    try:
        with socket.create_connection((name.strip("[]") or "localhost", int(port)), timeout):
            return True
    except (OSError, ValueError):
        return False
