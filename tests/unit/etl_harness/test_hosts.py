"""`Emulators` decides where the emulators come from: configured hosts are used as they are,
without starting or recording anything."""

from __future__ import annotations

from pathlib import Path

from etl_harness.emulators.hosts import Emulators
from etl_harness.local import from_env

HOSTS = {
    "PUBSUB_EMULATOR_HOST": "localhost:18085",
    "BIGTABLE_EMULATOR_HOST": "localhost:18086",
    "ETL_PUBSUB_ADMIN_HOST": "localhost:18087",
}


def test_configured_hosts_are_used_without_starting_anything(tmp_path: Path) -> None:
    local = from_env({**HOSTS, "ETL_STATE_DIR": str(tmp_path)})
    with Emulators(local) as emu:
        assert (emu.hosts.pubsub, emu.hosts.bigtable) == ("localhost:18085", "localhost:18086")
        assert (emu.hosts.source, emu.hosts.admin, emu.seeded) == ("env", "localhost:18087", True)
    assert list(tmp_path.iterdir()) == [], "nothing started, nothing recorded"
