"""The functions' zip holds the deployed runtime only (`main.py`, `etl/`, `etl_core/`), and its
`requirements.txt` names exactly what that runtime imports: no CLI, plugin or inspector file, and
no local-tooling dependency installed on Cloud Functions."""

from __future__ import annotations

import ast
import re

import pytest

from tests.deploy.templates import STAGES, Packaged

REQUIREMENT_IMPORTS = {
    "google-cloud-pubsub": ("google.cloud.pubsub_v1", "google.pubsub_v1"),
    "google-cloud-bigtable": ("google.cloud.bigtable",),
    "functions-framework": ("functions_framework",),
    "structlog": ("structlog",),
}
"""The modules each requirement provides; a new requirement must be added here with its module."""

LOCAL_ONLY = ("etl_harness", "typer", "rich", "tenacity", "flask", "pytest", "testcontainers")
"""Top-level modules of the local tooling and its extra: never imported by deployed code."""


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


def requirements(stage: Packaged) -> list[str]:
    lines = stage.zip_texts["requirements.txt"].splitlines()
    return [re.split(r"[=<>!~\[ ;]", line, maxsplit=1)[0] for line in lines if line[:1].isalnum()]


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


def test_every_requirement_is_imported_by_deployed_code(stage: Packaged) -> None:
    imported = imported_modules(python_files(stage))
    names = requirements(stage)
    assert names, "requirements.txt lists nothing"
    for name in names:
        assert name in REQUIREMENT_IMPORTS, f"{name}: which module of it does the runtime import?"
        provided = REQUIREMENT_IMPORTS[name]
        used = [m for m in imported if any(m == p or m.startswith(f"{p}.") for p in provided)]
        assert used, f"{name} is installed on Cloud Functions but no deployed file imports it"
