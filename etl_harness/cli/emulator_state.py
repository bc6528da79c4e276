"""`etl emulators export DIR` and `etl emulators logs [-f] [pubsub|bigtable]`, and the checks of
`etl emulators up --import DIR --export-on-exit DIR`.

A state directory holds one export per emulator, `DIR/pubsub` and `DIR/bigtable`, in the
emulators' own format (emulators/README.md, "State: export and import"); the emulators check it
and refuse it whole. Logs are the files the launcher writes in its state directory, one per
emulator started (`ETL_STATE_DIR/logs/<name>-<port>.log`), as `etl emulators status` shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from etl_harness.cli.faults import admin_errors, admin_host
from etl_harness.cli.options import configured, fail
from etl_harness.emulators.pair import KINDS

NAMES = tuple(kind.name for kind in KINDS)
MANIFEST = "manifest.json"


class BadStateDir(ValueError):
    """A directory `--import` cannot take, said before any emulator starts (exit 2)."""


def import_dir(text: str) -> Path:
    """DIR, absolute, once each emulator's export is in it (`DIR/<name>/manifest.json`)."""
    folder = Path(text).expanduser().resolve()
    if not folder.is_dir():
        raise BadStateDir(f"--import {text}: no such directory")
    for name in NAMES:
        if not (folder / name / MANIFEST).is_file():
            raise BadStateDir(
                f"--import {text}: no export of the {name} emulator in it "
                f"(no {name}/{MANIFEST}; `etl emulators export DIR` writes both)"
            )
    return folder


def export_dir(text: str) -> Path:
    """DIR, absolute (the emulators run here and write there); created if missing."""
    folder = Path(text).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise BadStateDir(f"{text} is not a directory")
    return folder


def prefixed(name: str, line: str) -> str:
    """`pubsub   | line`, as `docker compose logs` prefixes a service's lines."""
    return f"{name:<8} | {line}"


def follow(
    logs: Mapping[str, IO[str]],
    alive: Callable[[], bool],
    emit: Callable[[str], None],
    wait: Callable[[], None],
) -> None:
    """Emit the new complete lines of each log (prefixed) until `alive()` is false, then what is
    left; `wait()` between rounds (a sleep; Ctrl-C ends it)."""
    partial = dict.fromkeys(logs, "")
    while True:
        running = alive()
        for name, log in logs.items():
            partial[name] += log.read()
            *lines, partial[name] = partial[name].split("\n")
            for line in lines:
                emit(prefixed(name, line))
        if not running:
            for name, rest in partial.items():
                if rest:
                    emit(prefixed(name, rest))
            return
        wait()


def register(emulators: typer.Typer) -> None:
    """Add `export` and `logs` to the `etl emulators` group."""

    @emulators.command("export")
    def export_command(
        directory: Annotated[
            str, typer.Argument(metavar="DIR", help="Writes DIR/pubsub and DIR/bigtable.")
        ],
        bigtable_admin: Annotated[
            str | None,
            typer.Option(
                metavar="HOST:PORT",
                help="The Bigtable emulator's --admin-port (default: as `up` recorded it).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Export both running emulators' state now (topics, subscriptions with backlogs,
        tables with cells); `etl emulators up --import DIR` starts from it."""
        from etl_harness.cli.output import print_json
        from etl_harness.emulators import state
        from etl_harness.inspector.admin import AdminApi

        local = configured()
        try:
            folder = export_dir(directory)
        except BadStateDir as err:
            raise fail(str(err), 2) from err
        recorded = state.load(local.state_dir).get("bigtable")
        hosts = {
            "pubsub": admin_host(local),
            "bigtable": bigtable_admin or (recorded.admin_address if recorded else None),
        }
        missing = [name for name, host in hosts.items() if host is None]
        if missing:
            raise fail(
                f"no admin API of the {' and '.join(missing)} emulator: start them with "
                "`etl emulators up` (or give ETL_PUBSUB_ADMIN_HOST / --bigtable-admin)",
                2,
            )
        answers: dict[str, Any] = {}
        for name, host in hosts.items():
            with admin_errors(f"the {name} emulator"):
                answers[name] = AdminApi(host, timeout=120).export(str(folder / name))
        if as_json:
            print_json(answers)
            return
        for name, answer in answers.items():
            typer.echo(f"{name}\t{answer['dir']}\t{answer['elapsed_ms']} ms")

    @emulators.command("logs")
    def logs_command(
        service: Annotated[
            str | None, typer.Argument(metavar="[pubsub|bigtable]", help="Only this emulator.")
        ] = None,
        follow_: Annotated[
            bool,
            typer.Option("--follow", "-f", help="Keep printing new lines until they stop."),
        ] = False,
    ) -> None:
        """The logs of the emulators `etl emulators up` started, each line prefixed with its
        emulator (as `docker compose logs`); `-f` follows them until the emulators stop."""
        from etl_harness.emulators import state
        from etl_harness.emulators.native import pid_alive

        if service is not None and service not in NAMES:
            raise fail(f"unknown emulator {service!r}: pubsub or bigtable", 2)
        recorded = state.load(configured().state_dir)
        chosen = {n: r for n, r in recorded.items() if service in (None, n)}
        if not chosen:
            raise fail("no emulators recorded: `etl emulators up` starts them")
        opened = {}
        try:
            for name, running in chosen.items():
                opened[name] = Path(running.log).open(encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as err:
            raise fail(f"cannot read a log: {err}") from err
        try:
            if not follow_:
                follow(opened, lambda: False, typer.echo, lambda: None)
                return
            alive = lambda: any(pid_alive(r.pid) for r in chosen.values())  # noqa: E731
            follow(opened, alive, lambda line: typer.echo(line), lambda: time.sleep(0.2))
        except KeyboardInterrupt:
            return
        finally:
            for log in opened.values():
                log.close()
