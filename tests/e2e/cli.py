"""`etl` as the e2e tests run it: a process of its own, with exactly the environment given."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


def etl(
    *args: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m etl_harness ARGS`; the caller checks the exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "etl_harness", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
