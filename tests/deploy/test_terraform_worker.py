"""The deployment's artifacts hold the deployed file set only: the functions' zip and the worker's
image context (`deploy/bundle.py`), and the worker's Dockerfile copies exactly those files and runs
the registry's worker command.

The image itself cannot be built here (no base image can be pulled); these tests check what can
be checked without it.
"""

from __future__ import annotations

import json
import shlex
import zipfile
from pathlib import Path

import hcl2

from deploy import bundle
from deploy.generate import stage_data
from tests.deploy import fileset
from tests.deploy.templates import REPO

DOCKERFILE = REPO / "deploy" / "worker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def expected_names() -> set[str]:
    return {name for name, _ in bundle.deployed_files()}


def test_the_dockerfile_copies_the_deployed_file_set_and_nothing_else() -> None:
    copies = [shlex.split(args) for op, args in instructions() if op in ("COPY", "ADD")]
    assert all(op != "ADD" for op, _ in instructions()), "ADD can fetch URLs: COPY only"
    sources = {source.rstrip("/") for parts in copies for source in parts[:-1]}
    assert sources == set(bundle.DEPLOYED)


def test_the_dockerfile_runs_the_registry_worker_command_as_non_root() -> None:
    commands = [json.loads(args) for op, args in instructions() if op == "CMD"]
    assert commands == [stage_data("prod")["worker"]["command"]]
    assert [args for op, args in instructions() if op == "USER"] == ["nobody"]
    assert not [args for op, args in instructions() if op == "ENTRYPOINT"]


def test_the_base_image_is_the_functions_python() -> None:
    """The worker runs the Python the functions run (the stage module's python_runtime)."""
    base = next(args for op, args in instructions() if op == "FROM")
    variables = hcl2.loads((REPO / "deploy" / "terraform" / "stage" / "variables.tf").read_text())
    runtime = next(v for v in variables["variable"] if '"python_runtime"' in v)
    assert runtime['"python_runtime"']["default"] == '"python312"'
    assert base.startswith("python:3.12-")


def test_the_zip_holds_the_deployed_files_and_is_reproducible(tmp_path: Path) -> None:
    first = bundle.write_zip(tmp_path / "a" / "functions.zip")
    second = bundle.write_zip(tmp_path / "b" / "functions.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = set(archive.namelist())
    assert names == expected_names()
    assert {"main.py", "requirements.txt"} <= names
    assert not [n for n in names if n.startswith("etl_harness/") or "__pycache__" in n]


def test_the_worker_context_is_the_deployed_files_and_the_dockerfile(tmp_path: Path) -> None:
    context = bundle.write_worker_context(tmp_path / "worker")
    found = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    assert found == expected_names() | {"Dockerfile"}


def test_bytecode_and_caches_stay_out(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "etl" / "__pycache__").mkdir(parents=True)
    (repo / "etl_core").mkdir()
    for name in (
        "main.py",
        "requirements.txt",
        "etl/a.py",
        "etl/__pycache__/a.cpython-311.pyc",
        "etl/b.pyc",
        "etl_core/c.py",
        "etl_harness.py",
    ):
        (repo / name).write_text("x")
    assert [n for n, _ in bundle.deployed_files(repo)] == [
        "etl/a.py",
        "etl_core/c.py",
        "main.py",
        "requirements.txt",
    ]


def test_the_artifacts_hold_what_serverless_packages() -> None:
    """deploy/bundle.py's file set is the one serverless.yml's patterns give (tests.deploy.fileset,
    which test_deployed_zip holds to the real Serverless zip)."""
    assert expected_names() == set(fileset.deployed_files())
