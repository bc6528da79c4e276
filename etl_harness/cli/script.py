"""The `etl` console script: it checks that the harness extra is installed before it imports the
Typer app, so `pip install etl-pipeline` (the runtime alone) gives an `etl` that says in one line
what to install, with exit 2, instead of a `ModuleNotFoundError` traceback.

Only the standard library and `etl_harness.cli.errors` are imported before the check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

from etl_harness.cli import errors

HARNESS_MODULES = ("typer", "rich", "tenacity", "flask", "psutil", "waitress")
"""The top-level modules of the `harness` extra's distributions (pyproject.toml; a unit test keeps
the two equal)."""
INSTALL = "pip install 'etl-pipeline[harness]'"


def missing_modules(find: Callable[[str], Any] = find_spec) -> list[str]:
    """The harness modules this interpreter cannot import (found, not imported: `--help` stays
    fast)."""
    return [name for name in HARNESS_MODULES if find(name) is None]


def main() -> None:
    """`etl`: the Typer app, or one line on stderr and exit 2 when the harness extra is missing."""
    missing = missing_modules()
    if missing:
        errors.say(
            f"the etl command needs the harness extra ({', '.join(missing)} not installed): "
            f"{INSTALL}"
        )
        sys.exit(errors.USAGE)
    from etl_harness.cli.app import app

    app(prog_name="etl")
