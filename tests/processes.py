"""Running a program as the tests do: its output captured as text, its exit status left to the
caller to check, and a bound on how long it may take."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_captured(
    argv: Sequence[str | Path],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`argv` run to its end (or `timeout` seconds, then TimeoutExpired), stdout and stderr kept."""
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
