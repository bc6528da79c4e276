"""`nox -s e2e` runs under `pytest-xdist --dist loadgroup`: tests of one `xdist_group` (the plugin's
seeded-project group, the wheels' and the containers' shared set-ups) must run on one worker.
pytest 9.2 broke that silently (pytest-xdist#1386); this holds the lock to a pytest that groups."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.etl_harness import downstream

GROUPED = """
import pytest

@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("n", range(4))
def test_grouped(n):
    pass

def test_seeded_one(etl_seeded_emulators):
    pass

def test_seeded_two(etl_seeded_emulators):
    pass

@pytest.mark.parametrize("n", range(4))
def test_free(n):
    pass
"""


def workers_by_test(tmp_path: Path) -> dict[str, str]:
    args = ("-n", "2", "--dist", "loadgroup", "-v", "--etl-emulators=native")
    # No emulator binaries: the seeded tests skip, after xdist has scheduled them.
    done = downstream.run_pytest(tmp_path, GROUPED, *args, ETL_EMULATORS_BIN=str(tmp_path / "no"))
    found = re.findall(r"^\[(gw\d)\] .*?::(test_\w+)", done.stdout, re.MULTILINE)
    assert len(found) == 10, done.stdout + done.stderr
    return {f"{test}#{i}": worker for i, (worker, test) in enumerate(found)}


def test_each_group_runs_on_one_worker(tmp_path: Path) -> None:
    runs = workers_by_test(tmp_path)
    grouped = {w for name, w in runs.items() if name.startswith("test_grouped")}
    seeded = {w for name, w in runs.items() if name.startswith("test_seeded")}
    assert len(grouped) == 1, runs
    assert len(seeded) == 1, runs
