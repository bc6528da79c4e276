"""The harness installs with pip, outside the checkout: the project's wheel and the emulators'
platform wheel (`nox -s wheels` builds both) in a fresh venv give a working `etl emulators up`
and `etl demo`, with the binaries found in the installed package, never in the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from uv import find_uv_bin

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}"
    return result.stdout


def test_the_wheels_install_into_a_fresh_venv_and_run_the_demo_outside_the_checkout(
    tmp_path: Path,
) -> None:
    uv = find_uv_bin()
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    run(uv, "build", "--wheel", "--out-dir", dist, REPO, cwd=REPO)
    run(sys.executable, REPO / "emulators" / "wheel.py", dist, cwd=REPO)
    project = next(dist.glob("etl_pipeline-*.whl"))
    emulators = next(dist.glob("etl_pipeline_emulators-*.whl"))
    run(uv, "venv", "-q", "-p", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "-q", "-p", python, f"{project}[harness]", emulators, cwd=tmp_path)

    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env = {k: v for k, v in env.items() if k not in ("ETL_EMULATORS_BIN", "ETL_SEED_FILE")}
    env |= {"ETL_STATE_DIR": str(tmp_path / "state"), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    etl = venv / "bin" / "etl"
    up = json.loads(run(etl, "emulators", "up", "--json", cwd=elsewhere, env=env))
    try:
        installed = venv / "lib"
        logs = [Path(e["log"]) for e in up["emulators"].values()]
        assert all(log.is_file() for log in logs)
        status = json.loads(run(etl, "emulators", "status", "--json", cwd=elsewhere, env=env))
        assert all(row["up"] for row in status.values())
    finally:
        down = json.loads(run(etl, "emulators", "down", "--json", cwd=elsewhere, env=env))
    assert len(down["stopped"]) == 2
    probe = "import etl_harness.emulators.native as n; print(n.find_bin_dir())"
    found = Path(run(python, "-c", probe, cwd=elsewhere, env=env).strip())
    assert found.is_relative_to(installed), "the binaries come from the installed wheel"
    report = json.loads(run(etl, "demo", "--events", "100", "--json", cwd=elsewhere, env=env))
    assert report["ok"] is True
    assert report["occupancy"] == report["groundTruth"]
