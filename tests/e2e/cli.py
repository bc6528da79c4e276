"""`etl` as the e2e tests run it: a process of its own, with exactly the environment given."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

from tests.processes import run_captured


def etl(
    *args: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m etl_harness ARGS`; the caller checks the exit code and output."""
    return run_captured([sys.executable, "-m", "etl_harness", *args], env=env, timeout=timeout)
