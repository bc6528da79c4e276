"""pytest in a directory of its own, as a project with the plugin installed runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_pytest(
    tmp_path: Path, test: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Write `test` as `tmp_path/test_downstream.py` and run pytest there with ARGS, in this
    environment minus anything of ours (`ETL_*`, emulator hosts, `CI`, pytest's own) plus `env`."""
    (tmp_path / "test_downstream.py").write_text(test)
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ETL_", "PYTEST_", "CI")) and not k.endswith("_EMULATOR_HOST")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
