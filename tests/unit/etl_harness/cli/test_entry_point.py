"""The installed entry point (`python -m etl_harness`, as the `etl` script) takes the same one
error path as the tests' CliRunner: one line, the right status, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "env", "code", "starts"),
    [
        (["status"], {"ETL_STAGE": "staging"}, 2, "error: ETL_STAGE must be one of"),
        (["publish", "/nonexistent.jsonl"], {}, 2, "error: file '/nonexistent.jsonl'"),
        (["simulate"], {}, 2, "error: PUBSUB_EMULATOR_HOST and BIGTABLE_EMULATOR_HOST not set"),
    ],
)
def test_expected_failures_end_in_one_line_in_a_real_process(
    args: list[str], env: dict[str, str], code: int, starts: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    result = subprocess.run(
        [sys.executable, "-m", "etl_harness", *args],
        capture_output=True,
        text=True,
        env={**clean, "ETL_STATE_DIR": str(tmp_path), **env},
        timeout=60,
        check=False,
    )
    assert result.returncode == code
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(starts)
