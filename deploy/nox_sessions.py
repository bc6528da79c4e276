"""The `deploy` and `workflows` nox sessions, registered by noxfile.py.

Both install only the `deploy` extra of pyproject.toml (pytest and PyYAML), not the project: they
check configuration files, not the pipeline's code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

from deploy import locked

REPO = Path(__file__).resolve().parent.parent
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
TOOLS_BIN = REPO / ".tools" / "bin"


def deploy(session: nox.Session) -> None:
    """Package the Serverless service for dev, test and prod offline; check templates and guard."""
    _npm_ci_if_stale(session)
    _install_deploy_extra(session)
    session.run(
        "pytest",
        "tests/deploy/test_serverless_package.py",
        "tests/deploy/test_deployed_zip.py",
        "tests/deploy/test_stage_guard.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


def workflows(session: nox.Session) -> None:
    """actionlint on .github/workflows; the workflow runs every nox session .ci/run runs."""
    workflow_files = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.y*ml"))
    session.run(str(_actionlint(session)), *workflow_files, external=True)
    _install_deploy_extra(session)
    session.run(
        "pytest", "tests/deploy/test_ci_agreement.py", "-p", "no:cacheprovider", *session.posargs
    )


def _install_deploy_extra(session: nox.Session) -> None:
    pyproject = nox.project.load_toml(REPO / "pyproject.toml")
    locked.install(session, *pyproject["project"]["optional-dependencies"]["deploy"])


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _npm_ci_if_stale(session: nox.Session) -> None:
    """`npm ci` unless node_modules was installed from the current package-lock.json."""
    if shutil.which("npm") is None:
        message = "npm is not on PATH: install Node.js >= 18 to check the deployment"
        if _in_ci():
            session.error(message)
        session.skip(message)
    installed = REPO / "node_modules" / ".package-lock.json"
    lock = REPO / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        session.log("node_modules is up to date with package-lock.json")
        return
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)


def _actionlint(session: nox.Session) -> Path:
    """`.tools/bin/actionlint` at the pinned version, built from its Go module if needed."""
    binary = TOOLS_BIN / "actionlint"
    if binary.exists():
        version = subprocess.run(
            [str(binary), "-version"], capture_output=True, text=True, check=False
        ).stdout.split()
        if version and version[0] == ACTIONLINT_VERSION:
            return binary
    if shutil.which("go") is None:
        message = f"go is not on PATH: needed to build actionlint {ACTIONLINT_VERSION}"
        if _in_ci():
            session.error(message)
        session.skip(message)
    session.run(
        "go",
        "install",
        f"{ACTIONLINT_MODULE}@{ACTIONLINT_VERSION}",
        env={"GOBIN": str(TOOLS_BIN)},
        external=True,
    )
    return binary
