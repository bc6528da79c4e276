"""Where the CLI writes: `--json` alone on stdout, everything for people on stderr; progress only
on a terminal; library chatter (the Bigtable emulator warning, werkzeug's access log, the
pipeline's JSON logs) only when asked for with `-v`/`--log-level`."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console

LEVELS = ("debug", "info", "warning", "error")

human = Console(stderr=True, soft_wrap=True)  # a message is one line, however long
"""Messages, progress and, under `--json`, the tables: stderr."""


def print_json(value: Any) -> None:
    """The one thing a `--json` command writes on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def tables(as_json: bool) -> Console:
    """Tables go to stdout, unless stdout is reserved for JSON."""
    return human if as_json else Console()


def shows_progress(as_json: bool) -> bool:
    """Progress bars and spinners: for a person at a terminal, never under `--json`."""
    return not as_json and sys.stdout.isatty() and human.is_terminal


@contextlib.contextmanager
def working(message: str, as_json: bool) -> Iterator[None]:
    """A spinner on stderr while a command reads or writes (when `shows_progress`)."""
    if not shows_progress(as_json):
        yield
        return
    with human.status(message):
        yield


@contextlib.contextmanager
def progress(description: str, total: int | None, as_json: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (no total: a count); yields `advance(n)`. Silent when
    `shows_progress` is false."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=human, transient=True, disable=not shows_progress(as_json))
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def quiet_libraries(level: str) -> None:
    """The pipeline's logs at `level` (default warning); the Bigtable client's "Connecting to
    Bigtable emulator" RuntimeWarning and werkzeug's per-request access log only at debug."""
    from etl import logs

    number = logging.getLevelNamesMapping()[level.upper()]
    logs.configure(number)
    debug = number <= logging.DEBUG
    logging.getLogger("werkzeug").setLevel(logging.DEBUG if debug else logging.WARNING)
    if not debug:
        warnings.filterwarnings(
            "ignore", message="Connecting to Bigtable emulator", category=RuntimeWarning
        )
