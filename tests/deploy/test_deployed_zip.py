"""The functions' zip holds the deployed runtime only (`main.py`, `etl/`, `etl_core/`), and its
`requirements.txt` (exported from uv.lock) pins what that runtime imports and what those need:
no CLI, plugin or inspector file, and no local-tooling dependency installed on Cloud Functions."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from tests.deploy.fileset import deployed_files
from tests.deploy.templates import STAGES, Packaged

RUNTIME = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())[
    "project"
]["dependencies"]
"""The runtime's direct dependencies (ranges); requirements.txt adds what they depend on."""

REQUIREMENT_IMPORTS = {
    "google-cloud-pubsub": ("google.cloud.pubsub_v1", "google.pubsub_v1"),
    "google-cloud-bigtable": ("google.cloud.bigtable",),
    "functions-framework": ("functions_framework",),
    "structlog": ("structlog",),
}
"""The modules each direct dependency provides; a new one must be added here with its module."""

LOCAL_ONLY = ("etl_harness", "typer", "rich", "tenacity", "flask", "pytest", "testcontainers")
"""Top-level modules of the local tooling and its extra: never imported by deployed code."""

LOCAL_ONLY_REQUIREMENTS = ("typer", "rich", "psutil", "pytest", "testcontainers", "hypothesis")
"""Distributions of the local tooling that nothing deployed depends on: never in requirements.txt
(flask and click are: functions-framework serves through flask and its CLI is click's, so
requirements.txt pins them as that package's own dependencies)."""


@pytest.fixture(params=STAGES)
def stage(request: pytest.FixtureRequest, packaged: dict[str, Packaged]) -> Packaged:
    return packaged[request.param]


def imported_modules(sources: dict[str, str]) -> set[str]:
    """Every absolute module name imported anywhere in `sources` (lazy imports included)."""
    found: set[str] = set()
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def python_files(stage: Packaged) -> dict[str, str]:
    return {name: text for name, text in stage.zip_texts.items() if name.endswith(".py")}


def requirements(stage: Packaged) -> dict[str, str]:
    """name → the exact version requirements.txt pins it to (every line is `name==version`)."""
    lines = stage.zip_texts["requirements.txt"].splitlines()
    pins = [re.split(r"[ ;]", line, maxsplit=1)[0] for line in lines if line[:1].isalnum()]
    assert all(re.fullmatch(r"[\w.\-]+==[\w.\-+]+", pin) for pin in pins), pins
    return dict(pin.split("==") for pin in pins)


def test_the_zip_holds_no_cli_plugin_or_inspector_file(stage: Packaged) -> None:
    local = [
        name
        for name in stage.zip_names
        if name.startswith("etl_harness/")
        or re.search(r"(^|/)(cli|inspector|plugin|emulators)(/|\.py$)", name)
        or name.endswith((".html", ".js", ".css", ".toml"))
    ]
    assert local == []
    assert any(name.startswith("etl/entrypoints/") for name in stage.zip_names)


def test_deployed_code_imports_nothing_of_the_local_tooling(stage: Packaged) -> None:
    tops = {module.split(".")[0] for module in imported_modules(python_files(stage))}
    assert tops.isdisjoint(LOCAL_ONLY), sorted(tops & set(LOCAL_ONLY))


def test_requirements_pin_the_runtime_and_no_local_tooling(stage: Packaged) -> None:
    pinned = requirements(stage)
    direct = [re.split(r"[=<>!~\[ ;]", text, maxsplit=1)[0] for text in RUNTIME]
    assert set(direct) <= set(pinned), sorted(set(direct) - set(pinned))
    assert set(pinned).isdisjoint(LOCAL_ONLY_REQUIREMENTS), sorted(
        set(pinned) & set(LOCAL_ONLY_REQUIREMENTS)
    )


def test_every_direct_dependency_is_imported_by_deployed_code(stage: Packaged) -> None:
    imported = imported_modules(python_files(stage))
    names = [re.split(r"[=<>!~\[ ;]", text, maxsplit=1)[0] for text in RUNTIME]
    for name in names:
        assert name in REQUIREMENT_IMPORTS, f"{name}: which module of it does the runtime import?"
        provided = REQUIREMENT_IMPORTS[name]
        used = [m for m in imported if any(m == p or m.startswith(f"{p}.") for p in provided)]
        assert used, f"{name} is installed on Cloud Functions but no deployed file imports it"


def test_the_deployed_file_set_is_what_the_zip_holds(stage: Packaged) -> None:
    """`tests.deploy.fileset` (what the worker's e2e test runs from) reads serverless.yml's
    patterns as Serverless does."""
    assert set(deployed_files()) == {n for n in stage.zip_names if not n.endswith("/")}
