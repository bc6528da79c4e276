"""Dependencies: ranges in pyproject.toml, exact versions in uv.lock, and requirements.txt (what
Cloud Functions installs) exported from the lock. `nox -s lock` regenerates the last two."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from uv import find_uv_bin

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())


def declared() -> list[tuple[str, Requirement]]:
    """Every requirement of pyproject.toml, with the extra it belongs to ("" for the runtime)."""
    found = [("", Requirement(text)) for text in PYPROJECT["dependencies"]]
    for extra, texts in PYPROJECT["optional-dependencies"].items():
        found += [(extra, Requirement(text)) for text in texts]
    return found


@pytest.mark.parametrize(("extra", "requirement"), declared(), ids=str)
def test_pyproject_declares_a_range_never_a_pin(extra: str, requirement: Requirement) -> None:
    if requirement.name == PYPROJECT["name"]:
        return  # an extra of the project itself
    operators = {spec.operator for spec in requirement.specifier}
    assert ">=" in operators, f"{requirement}: give the lowest version the code is tested with"
    assert operators.isdisjoint({"==", "==="}), f"{requirement}: pin in uv.lock, not here"


def test_uv_lock_was_made_from_these_ranges() -> None:
    """Offline half of `uv lock --check` (the lint session runs the whole): no stale lock."""
    (project,) = [p for p in LOCK["package"] if p["name"] == PYPROJECT["name"]]
    locked = {
        (r["name"], r.get("specifier", ""), tuple(r.get("extras", ())), r.get("marker", ""))
        for r in project["metadata"]["requires-dist"]
    }
    wanted = {
        (
            r.name,
            str(r.specifier),
            tuple(sorted(r.extras)),
            f"extra == '{extra}'" if extra else "",
        )
        for extra, r in declared()
    }
    normalise = {(n, ",".join(sorted(s.split(","))), e, m) for n, s, e, m in locked}
    assert normalise == {(n, ",".join(sorted(s.split(","))), e, m) for n, s, e, m in wanted}


def test_requirements_txt_is_the_runtime_exported_from_the_lock() -> None:
    exported = subprocess.run(
        [find_uv_bin(), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _body(exported) == _body((ROOT / "requirements.txt").read_text()), (
        "requirements.txt is stale: run `nox -s lock`"
    )


def test_requirements_txt_pins_every_runtime_dependency_exactly() -> None:
    pins = {
        Requirement(line).name: Requirement(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line[:1].isalnum()
    }
    for text in PYPROJECT["dependencies"]:
        wanted = Requirement(text)
        pinned = pins[wanted.name]
        (spec,) = pinned.specifier
        assert spec.operator == "==", pinned
        assert wanted.specifier.contains(spec.version), f"{pinned} outside {wanted}"


def _body(text: str) -> list[str]:
    """The requirement lines and their `# via` notes, without uv's header (it names the file)."""
    return [line for line in text.splitlines() if line and not line.startswith("# ")]
