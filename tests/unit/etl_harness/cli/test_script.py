"""The `etl` script without the harness extra: one line naming what to install, exit 2, before
the Typer app (or anything of the extra) is imported. `tests/e2e/test_wheels.py` installs the
wheel without the extra and runs the real script."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from etl_harness.cli import script

PYPROJECT = Path(__file__).resolve().parents[4] / "pyproject.toml"


def test_the_checked_modules_are_the_harness_extras_distributions() -> None:
    extra = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["harness"]
    assert tuple(re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0] for req in extra) == (
        script.HARNESS_MODULES
    )


def test_every_module_found_means_nothing_missing() -> None:
    assert script.missing_modules(lambda name: object()) == []


def test_the_modules_not_found_are_named_in_order() -> None:
    absent = {"typer", "psutil"}
    found = script.missing_modules(lambda name: None if name in absent else object())
    assert found == ["typer", "psutil"]


@pytest.mark.parametrize("hidden", [("typer",), ("typer", "rich", "flask")])
def test_etl_without_the_extra_says_what_to_install_in_one_line_and_exits_2(
    hidden: tuple[str, ...],
) -> None:
    # A None in sys.modules makes the module unimportable (find_spec answers None), as in a
    # venv without the extra; typer's absence is checked before anything imports it.
    probe = (
        "import sys\n"
        f"for name in {hidden!r}: sys.modules[name] = None\n"
        "sys.argv = ['etl', '--help']\n"
        "from etl_harness.cli.script import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the etl command needs the harness extra")
    assert f"({', '.join(hidden)} not installed)" in line
    assert line.endswith("pip install 'etl-pipeline[harness]'")


def test_etl_with_the_extra_runs_the_typer_app() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "etl_harness", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: etl" in result.stdout
