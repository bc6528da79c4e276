"""Running `etl serve` as a user would (a subprocess) and waiting for the table to settle."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from etl.service import ledger
from etl.adapters.bigtable import EventTable
from etl.config import Settings
from etl_core import Simulation, event_key, is_event_key, status_key


@dataclass
class Served:
    """A running `etl serve` process and what it has logged so far."""

    proc: subprocess.Popen[bytes]
    lines: list[bytes] = field(default_factory=list)

    def urls(self) -> dict[str, str]:
        """Function name → push endpoint, from the JSON `serving` log lines."""
        found = {}
        for line in self.lines:
            if line.startswith(b"{") and b'"serving"' in line:
                entry = json.loads(line)
                found[entry["function"]] = entry["url"]
        return found

    def log_messages(self) -> list[str]:
        return [json.loads(line).get("message", "") for line in self.lines if line.startswith(b"{")]


@contextlib.contextmanager
def serving(settings: Settings, pipeline: str, log_dir: Path, *extra: str) -> Iterator[Served]:
    """`etl serve --pipeline P` in its own process, ready when it says so on stderr."""
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": settings.project, "ETL_STAGE": settings.stage}
    log = log_dir / f"serve-{pipeline}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "etl", "serve", "--pipeline", pipeline, *extra],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
        )
    ready = threading.Event()
    served = Served(proc)
    lines = served.lines

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(b"ready:"):
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(60):
            raise AssertionError(f"etl serve never became ready:\n{b''.join(lines[-40:]).decode()}")
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)
        if proc.stderr is not None:
            proc.stderr.close()
        log.write_bytes(b"".join(lines))


def expected_keys(sim: Simulation) -> set[bytes]:
    return {event_key(e.service, e.event_time, e.event_id) for e in sim.events}


def wait_settled(table: EventTable, sim: Simulation, timeout: float = 120) -> set[bytes]:
    """Event row keys once every event is stored and no occupancy update is pending."""
    want = expected_keys(sim)
    deadline = time.monotonic() + timeout
    keys: set[bytes] = set()
    while time.monotonic() < deadline:
        keys = {k for k, _ in table.all_rows() if is_event_key(k)}
        pending = any(
            q.startswith(ledger.DIRTY)
            for svc in sim.ground_truth
            for q in table.read_status(status_key(svc)).cells
        )
        if keys >= want and not pending:
            return keys
        time.sleep(0.2)
    raise AssertionError(
        f"not settled after {timeout}s: {len(keys & want)}/{len(want)} rows stored"
    )
