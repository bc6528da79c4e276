"""A native emulator whose port is taken between choosing it and binding it (another test run
starting emulators at the same moment) starts on a fresh port instead of failing."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from etl_harness.emulators import native, pair
from etl_harness.local import from_env


@pytest.mark.parametrize("kind", pair.KINDS, ids=lambda k: k.name)
def test_a_port_taken_before_the_bind_is_replaced_by_a_free_one(
    kind: pair.Kind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch = native.launch_for(from_env(os.environ))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The race, made certain: the check says free, the bind finds it taken.
        monkeypatch.setattr(native, "port_is_free", lambda host, p: True)
        running = native.start(kind, port=port, log_dir=tmp_path, launch=launch)
        try:
            assert running.port != port
            native.probe(kind, running.address)
            taken_log = tmp_path / f"{kind.name}-{port}.log"
            assert "address already in use" in taken_log.read_text()
        finally:
            native.stop(running)
