"""`Emulators` decides where the emulators come from: configured hosts are used as they are, and
under `official` they are taken for Google's own (no admin API; etl.toml applied from Python)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_harness.emulators.hosts import Emulators
from etl_harness.local import from_env

HOSTS = {
    "PUBSUB_EMULATOR_HOST": "localhost:18085",
    "BIGTABLE_EMULATOR_HOST": "localhost:18086",
    "ETL_PUBSUB_ADMIN_HOST": "localhost:18087",
}


@pytest.mark.parametrize(
    ("mode", "source", "admin", "seeded"),
    [("auto", "env", "localhost:18087", True), ("official", "official", None, False)],
)
def test_configured_hosts_are_used_without_starting_anything(
    mode: str, source: str, admin: str | None, seeded: bool, tmp_path: Path
) -> None:
    local = from_env({**HOSTS, "ETL_STATE_DIR": str(tmp_path)})
    with Emulators(local, mode) as emu:  # type: ignore[arg-type]
        assert (emu.hosts.pubsub, emu.hosts.bigtable) == ("localhost:18085", "localhost:18086")
        assert (emu.hosts.source, emu.hosts.admin, emu.seeded) == (source, admin, seeded)
    assert list(tmp_path.iterdir()) == [], "nothing started, nothing recorded"
