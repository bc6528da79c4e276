"""The `deploy`, `terraform`, `bundle` and `workflows` nox sessions, registered by noxfile.py.

The checks install only the `deploy` extra of pyproject.toml (pytest, PyYAML, python-hcl2), not
the project: they check configuration files, not the pipeline's code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

from deploy import locked

REPO = Path(__file__).resolve().parent.parent
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
TOOLS_BIN = REPO / ".tools" / "bin"
TERRAFORM_ROOTS = ("deploy/terraform/project", "deploy/terraform/stage")
PROVIDER_DIR_ENV = "ETL_TF_PROVIDER_DIR"


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


def terraform(session: nox.Session) -> None:
    """`terraform fmt -check`, the structural tests; with a provider, validate and test.

    `terraform validate` and `terraform test` (mock provider, plans for dev and prod) need the
    Google provider's binary: ETL_TF_PROVIDER_DIR names the directory holding
    terraform-provider-google (docs/deployment/terraform.md says how to build one). Without it
    they are skipped with that reason, in CI too (CI cannot bring in the provider's source).
    """
    binary = _terraform_binary(session)
    session.run(binary, "fmt", "-check", "-recursive", "deploy/terraform", external=True)
    _install_deploy_extra(session)
    session.run(
        "pytest",
        "tests/deploy/test_terraform.py",
        "tests/deploy/test_terraform_worker.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )
    provider_dir = os.environ.get(PROVIDER_DIR_ENV, "")
    if not (Path(provider_dir) / "terraform-provider-google").is_file():
        session.log(
            f"skipped terraform validate and terraform test: {PROVIDER_DIR_ENV} does not name a "
            "directory holding terraform-provider-google (see docs/deployment/terraform.md)"
        )
        return
    work = Path(session.create_tmp()).resolve()
    env = _offline_terraform_env(work, Path(provider_dir).resolve())
    functions_zip = work / "bundle" / "functions.zip"
    session.run("python", "deploy/bundle.py", str(work / "bundle"), silent=True)
    for root in TERRAFORM_ROOTS:
        session.run(binary, f"-chdir={root}", "validate", env=env, external=True)
    session.run(
        binary,
        "-chdir=deploy/terraform/stage",
        "test",
        f"-var=function_zip={functions_zip}",
        env=env,
        external=True,
    )


def bundle(session: nox.Session) -> None:
    """The functions' zip and the worker's image context from the deployed file set:
    dist/functions.zip and dist/worker/ (`nox -s bundle -- OUT_DIR` elsewhere)."""
    session.run(sys.executable, "deploy/bundle.py", *session.posargs, external=True)


def _terraform_binary(session: nox.Session) -> str:
    binary = shutil.which("terraform")
    if binary is None:
        message = "terraform is not on PATH: install Terraform >= 1.9 to check deploy/terraform"
        if _in_ci():
            session.error(message)
        session.skip(message)
    return binary


def _offline_terraform_env(work: Path, provider_dir: Path) -> dict[str, str]:
    """Terraform using the provider binary in `provider_dir` without `terraform init`, its
    working data kept out of the checkout."""
    config = work / "terraform.tfrc"
    config.write_text(
        "provider_installation {\n"
        f'  dev_overrides {{ "hashicorp/google" = "{provider_dir}" }}\n'
        "  direct {}\n"
        "}\n"
    )
    return {
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_DATA_DIR": str(work / "terraform-data"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


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
