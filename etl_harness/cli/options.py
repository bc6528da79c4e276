"""What every command shares: the choice types and common options, the configuration read at
this entry point, and the guard that keeps commands off Google Cloud unless asked."""

from __future__ import annotations

import os
import socket
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


def configured() -> Local:
    """The harness configuration, from this process's environment (the CLI is an entry point)
    and the global options (`etl --stage test …`)."""
    return local_from_env({**os.environ, **overrides()})


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a process the CLI starts: its own, `extra` (emulator hosts), and what
    the global options change."""
    return {**os.environ, **extra, **overrides()}


def overrides() -> dict[str, str]:
    """The environment as the global options change it (`--stage`), for this process and the
    processes it starts. Read from click's current context (typer vendors click)."""
    ctx = get_current_context(silent=True)
    stage = ctx.find_root().params.get("stage") if ctx is not None else None
    return {"ETL_STAGE": stage} if stage else {}


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
