"""More processes of a shape beside `etl serve`'s own (`etl serve --processes N`), like concurrent
instances of a Cloud Function, or more workers on one subscription.

Pre-fork, as gunicorn does: `etl serve` binds one listening socket per function and hands the same
sockets to every instance (`pass_fds`), so N processes accept on one port per function and the
kernel spreads the connections among them; the push endpoints stay one per function.

An instance stops on SIGTERM, and whenever `etl serve` ends, however it ends: it watches the read
end of a pipe (its lifeline) whose write end only `etl serve` holds. When `etl serve` exits, even
by SIGKILL, the kernel closes that end, the read returns end-of-file and the instance shuts down:
no orphan keeps serving a port nobody pushes to.

    python -m etl_harness.instances SPEC    (started by `etl serve`, never by hand)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl import logs
from etl.config import Settings
from etl.entrypoints import worker as worker_process
from etl.entrypoints.worker import WorkerOptions
from etl.logs import log
from etl_core import EtlError
from etl_harness.function_servers import functions_on
from etl_harness.local import Local
from etl_harness.push_auth import Requirement

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 30.0


class InstanceFailed(EtlError, RuntimeError):
    """An instance exited, or did not report ready in time, while `etl serve` started it."""


@dataclass(frozen=True, slots=True)
class Spec:
    """What one instance runs: the configuration `etl serve` runs with (passed as a value, not
    read again from the environment), the shape, and the descriptors it inherits."""

    local: Local
    pipeline: str
    lifeline: int
    ready: int
    """Write end of a pipe: one byte once the instance serves, then closed."""
    sockets: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Function target → listening socket (the shapes with functions)."""
    worker: WorkerOptions | None = None
    log_level: int = logging.INFO
    """The level of `etl serve`'s own logs (`-v`), so every instance logs alike."""
    push_auth: Mapping[str, Requirement] = dataclasses.field(default_factory=dict)
    """Function target → the token its push requests must carry (`--require-push-auth`)."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> Spec:
        raw: dict[str, Any] = json.loads(text)
        local = {
            **raw["local"],
            "settings": Settings(**raw["local"]["settings"]),
            "state_dir": Path(raw["local"]["state_dir"]),
        }
        return cls(
            local=Local(**local),
            pipeline=raw["pipeline"],
            lifeline=raw["lifeline"],
            ready=raw["ready"],
            sockets=raw["sockets"],
            worker=WorkerOptions(**raw["worker"]) if raw["worker"] else None,
            log_level=raw.get("log_level", logging.INFO),
            push_auth={t: Requirement(**r) for t, r in raw.get("push_auth", {}).items()},
        )


@contextlib.contextmanager
def started(
    local: Local,
    pipeline: str,
    count: int,
    *,
    sockets: Mapping[str, socket.socket] | None = None,
    worker: WorkerOptions | None = None,
    push_auth: Mapping[str, Requirement] | None = None,
    timeout: float = READY_TIMEOUT_S,
) -> Iterator[list[int]]:
    """`count` instances of `pipeline`, all ready when the block starts (yields their pids);
    stopped when it ends (SIGTERM, then SIGKILL after a grace period)."""
    if count <= 0:
        yield []
        return
    lifeline, lifeline_w = os.pipe()
    fds = {target: s.fileno() for target, s in (sockets or {}).items()}
    procs: list[subprocess.Popen[bytes]] = []
    readiness: list[int] = []
    try:
        for _ in range(count):
            ready, ready_w = os.pipe()
            readiness.append(ready)
            spec = Spec(
                local, pipeline, lifeline, ready_w, fds, worker, logs.level(),
                dict(push_auth or {}),
            )  # fmt: skip
            try:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "etl_harness.instances", spec.to_json()],
                        stdin=subprocess.DEVNULL,
                        pass_fds=(lifeline, ready_w, *fds.values()),
                    )
                )
            finally:
                os.close(ready_w)
        deadline = time.monotonic() + timeout
        for proc, ready in zip(procs, readiness, strict=True):
            _await_ready(proc, ready, deadline)
        yield [p.pid for p in procs]
    finally:
        for fd in readiness:
            os.close(fd)
        stop(procs)
        os.close(lifeline)
        os.close(lifeline_w)


def _await_ready(proc: subprocess.Popen[bytes], ready: int, deadline: float) -> None:
    readable, _, _ = select.select([ready], [], [], max(0.0, deadline - time.monotonic()))
    if not readable:
        raise InstanceFailed(f"instance {proc.pid} was not ready in time")
    if not os.read(ready, 1):  # end of file: it exited (or closed the pipe) before serving
        try:
            code = proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            code = None
        raise InstanceFailed(f"instance {proc.pid} exited with status {code} before it was ready")


def stop(procs: Sequence[subprocess.Popen[bytes]], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM every instance, then wait; SIGKILL what is still running after `grace` seconds."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the instance's side ---


def watch_lifeline(fd: int, stop: threading.Event) -> None:
    """Set `stop` when the pipe from `etl serve` ends (in a daemon thread)."""

    def wait() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        stop.set()

    threading.Thread(target=wait, name="lifeline", daemon=True).start()


def announce_ready(fd: int) -> Callable[[], None]:
    """Tell `etl serve` this instance serves (once)."""

    def ready() -> None:
        with contextlib.suppress(OSError):
            os.write(fd, b"r")
            os.close(fd)

    return ready


def run(spec: Spec, stop: threading.Event, ready: Callable[[], None]) -> None:
    """What an instance runs until `stop` is set: the worker's entry point, or `main.py`'s
    functions on the sockets `etl serve` handed down."""

    def serving() -> None:
        log.info("instance ready", pipeline=spec.pipeline)
        ready()

    if spec.pipeline == "worker":
        worker_process.run(spec.local.settings, stop, spec.worker or WorkerOptions(), serving)
        return
    with functions_on(spec.local.settings, spec.sockets, spec.push_auth):
        serving()
        stop.wait()


def main(argv: Sequence[str]) -> None:
    spec = Spec.from_json(argv[0])
    logs.configure(spec.log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    watch_lifeline(spec.lifeline, stop)
    run(spec, stop, announce_ready(spec.ready))


if __name__ == "__main__":
    main(sys.argv[1:])
