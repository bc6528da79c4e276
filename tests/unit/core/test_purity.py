"""`etl_core` is pure: standard library only, no I/O, no clock, no unseeded randomness."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import etl_core

FORBIDDEN_PREFIXES = (
    "google",
    "grpc",
    "requests",
    "flask",
    "functions_framework",
    "urllib3",
    "httpx",
    "socket",
    "ssl",
    "orjson",
    "msgspec",
)
PACKAGE_DIR = Path(etl_core.__path__[0])
SOURCES = sorted(PACKAGE_DIR.glob("*.py"))
IMPURE_CALLS = {
    "now",
    "utcnow",
    "today",
    "time",
    "monotonic",
    "perf_counter",
    "getenv",
    "environ",
    "open",
    "urandom",
    "uuid1",
    "uuid4",
    "seed",
    "localtime",
    "astimezone()",
}


def test_importing_every_module_needs_and_loads_no_network_or_cloud_library() -> None:
    # -S: no site-packages at all, so the import itself proves "standard library only".
    script = (
        "import json, pkgutil, sys\n"
        "before = set(sys.modules)\n"
        "import etl_core\n"
        "names = [m.name for m in pkgutil.walk_packages(etl_core.__path__, 'etl_core.')]\n"
        "for name in names: __import__(name)\n"
        "print(json.dumps({'modules': names, 'loaded': sorted(set(sys.modules) - before)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE_DIR.parent,
    )
    report = json.loads(result.stdout)
    assert len(report["modules"]) == len(SOURCES) - 1  # all but __init__
    loaded = [m for m in report["loaded"] if m.split(".")[0] in FORBIDDEN_PREFIXES]
    assert loaded == []


def test_every_import_is_from_the_standard_library_or_etl_core() -> None:
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "etl_core", (path.name, name)


def test_no_module_reads_the_clock_the_environment_files_or_global_randomness() -> None:
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            called = None
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if isinstance(node, ast.Attribute) and node.attr == "environ":
                called = node.attr
            if called == "astimezone" and isinstance(node, ast.Call) and not node.args:
                called = "astimezone()"  # converts to the machine's local zone
            assert called not in IMPURE_CALLS, (path.name, ast.unparse(node))


def test_walk_packages_finds_the_modules_the_ast_checks_read() -> None:
    found = {m.name for m in pkgutil.walk_packages(etl_core.__path__, "etl_core.")}
    assert found == {f"etl_core.{p.stem}" for p in SOURCES if p.stem != "__init__"}
