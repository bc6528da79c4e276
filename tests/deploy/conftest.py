"""Fixtures that run the real Serverless Framework (`npm ci` tooling) on a copy of the service.

`serverless package` needs no cloud: it writes the Deployment Manager templates and the zip under
`.serverless/`. It does try one Deployment Manager call (to find an existing bucket) and ignores
its failure, so a throwaway service-account key with a freshly generated RSA key is put where the
original design's convention looks for it (`~/<project>.json`, with HOME pointing at a temporary
directory).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.templates import (
    PROJECT,
    REPO,
    SERVERLESS_JS,
    SERVICE_DIRS,
    SERVICE_FILES,
    STAGES,
    Packaged,
)
from tests.processes import run_captured


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with the repository's `npm ci` tooling installed; else skip (fail in CI)."""
    node_bin = shutil.which("node")
    missing = [
        what
        for what, ok in (
            ("node is not on PATH", node_bin is not None),
            ("node_modules/serverless is missing (run `npm ci`)", SERVERLESS_JS.exists()),
        )
        if not ok
    ]
    if missing:
        reason = "; ".join(missing)
        if _in_ci():
            pytest.fail(f"deployment checks cannot run in CI: {reason}")
        pytest.skip(f"deployment checks need Node and `npm ci`: {reason}")
    assert node_bin is not None
    return node_bin


@pytest.fixture(scope="session")
def service_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the service (what the zip would hold) with the repository's node_modules linked."""
    service = tmp_path_factory.mktemp("service")
    for name in SERVICE_FILES:
        source = REPO / name
        if source.exists():
            shutil.copy2(source, service / name)
    for name in SERVICE_DIRS:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, service / name, ignore=shutil.ignore_patterns("__pycache__")
            )
    # Stand-ins only inside the copy, for pieces being written by others right now.
    if not (service / "main.py").exists():
        (service / "main.py").write_text('"""Stand-in: main.py is not in the repository yet."""\n')
    if not (service / "requirements.txt").exists():
        (service / "requirements.txt").write_text("functions-framework\n")
    (service / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)
    return service


@pytest.fixture(scope="session")
def home_with_fake_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME holding `~/<project>.json`: a service-account key that no Google project knows."""
    home = tmp_path_factory.mktemp("home")
    key = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0" * 40,
        "private_key": key,
        "client_email": f"etl-test@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "000000000000000000000",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    (home / f"{PROJECT}.json").write_text(json.dumps(account))
    return home


@pytest.fixture(scope="session")
def run_serverless(node: str, service_dir: Path, home_with_fake_key: Path) -> Any:
    """Run the Serverless CLI in the service copy with a clean environment; returns the result."""

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home_with_fake_key),
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "CI": "true",  # no interactive prompts, whatever the caller's environment
            **extra_env,
        }
        return run_captured([node, SERVERLESS_JS, *args], cwd=service_dir, env=env, timeout=180)

    return run


@pytest.fixture(scope="session")
def packaged(
    run_serverless: Any, service_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Packaged]:
    """`serverless package --stage S --project local-project` for every stage."""
    out = tmp_path_factory.mktemp("packaged")
    result: dict[str, Packaged] = {}
    for stage in STAGES:
        done = run_serverless("package", "--stage", stage, "--project", PROJECT)
        assert done.returncode == 0, (
            f"serverless package --stage {stage} failed:\n{done.stdout}\n{done.stderr}"
        )
        target = out / stage
        shutil.move(service_dir / ".serverless", target)
        update_text = (target / "configuration-template-update.yml").read_text()
        with zipfile.ZipFile(target / "etlservice.zip") as archive:
            names = frozenset(archive.namelist())
            texts = {
                name: archive.read(name).decode()
                for name in names
                if name.endswith(".py") or name == "requirements.txt"
            }
        result[stage] = Packaged(
            stage=stage,
            create=yaml.safe_load((target / "configuration-template-create.yml").read_text()),
            update=yaml.safe_load(update_text),
            update_text=update_text,
            zip_names=names,
            zip_texts=texts,
        )
    return result
