"""The layers import in one direction: core <- service <- adapters / entry points <- local tooling.

Read from the source (lazy imports inside functions included), as `core/test_purity.py` does for
the core: a module may import its own layer and those below, never one above. The deployed
runtime (`main.py`, `etl/`) never imports the local tooling (`etl_harness/`), and configuration
is read from the environment only where a process starts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

LAYERS = (
    ("etl_core", 0),
    ("etl.config", 1),
    ("etl.logs", 1),
    ("etl.pipeline", 1),
    ("etl.service.ports", 2),
    ("etl.service", 3),
    ("etl.adapters", 4),
    ("etl.wiring", 5),
    ("etl.entrypoints", 6),
    ("main", 7),
    ("etl_harness", 8),
)
"""Longest matching prefix wins. `ports` sits below the rest of the service: the adapters
implement it, so they may import it, while the service never imports an adapter."""

ENTRY_POINTS = {
    "etl.entrypoints.functions": "Cloud Functions start here (the environment they are given)",
    "etl.entrypoints.worker": "the worker's process starts here (Cloud Run's environment)",
    "etl_harness.cli.options": "the `etl` command: its configuration, and its children's "
    "environment",
    "etl_harness.emulators.plugin": "pytest starts here; it exports the hosts to the processes "
    "tests start, through monkeypatch",
}
"""The only modules that may name `os.environ`; everything else receives `Settings`/`Local`."""


ENVIRONMENT = ("environ", "environb", "getenv", "putenv", "unsetenv")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {
    module_name(path): path
    for folder in ("etl", "etl_harness")
    for path in sorted((REPO / folder).rglob("*.py"))
} | {"main": REPO / "main.py"}


def layer_of(module: str) -> int | None:
    matches = [
        (len(prefix), rank)
        for prefix, rank in LAYERS
        if module == prefix or module.startswith(f"{prefix}.")
    ]
    return max(matches)[1] if matches else None


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a project module: etl_core, etl, etl_harness, main."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in ("etl_core", "etl", "etl_harness", "main"):
                found.append((node.lineno, name))
    return found


def test_every_module_of_the_runtime_and_the_tooling_has_a_layer() -> None:
    assert "etl.service.handlers" in SOURCES
    assert "etl_harness.cli.app" in SOURCES
    assert [m for m in SOURCES if layer_of(m) is None or m == "etl"] == ["etl"]


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_module_imports_a_layer_above_its_own(module: str) -> None:
    own = layer_of(module) if module != "etl" else 0
    assert own is not None
    upward = [
        f"{SOURCES[module].relative_to(REPO)}:{line}: imports {name}"
        for line, name in project_imports(SOURCES[module])
        if (layer_of(name) or 0) > own
    ]
    assert upward == []


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_only_entry_points_name_os_environ(module: str) -> None:
    tree = ast.parse(SOURCES[module].read_text())
    named = [
        node.lineno
        for node in ast.walk(tree)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ENVIRONMENT
        )
        or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ENVIRONMENT for alias in node.names)
        )
    ]
    if module not in ENTRY_POINTS:
        assert named == [], f"{module} reads or writes the environment at lines {named}"


def test_entry_points_write_the_environment_only_for_child_processes() -> None:
    writes = {"update", "setdefault", "pop", "__setitem__", "clear", "putenv"}
    for module in ENTRY_POINTS:
        for node in ast.walk(ast.parse(SOURCES[module].read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func.value
                named_environ = isinstance(target, ast.Attribute) and target.attr == "environ"
                assert not (named_environ and node.func.attr in writes), ast.unparse(node)
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    assert "environ" not in ast.unparse(target), ast.unparse(node)


TOOLING = {
    path.relative_to(REPO).as_posix(): path
    for path in [*SOURCES.values(), *sorted((REPO / "bench").rglob("*.py"))]
}


@pytest.mark.parametrize("name", sorted(TOOLING))
def test_the_runtime_the_harness_and_the_benchmarks_never_import_the_tests(name: str) -> None:
    """What tests and tooling share lives in the tooling (`etl_harness.settling`), never the
    other way round: the tests are not installed."""
    imported = []
    for node in ast.walk(ast.parse(TOOLING[name].read_text())):
        if isinstance(node, ast.Import):
            imported += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.append((node.lineno, node.module))
    assert [(line, m) for line, m in imported if m.split(".")[0] == "tests"] == []
