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

from etl.config import Settings


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
