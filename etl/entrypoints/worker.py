"""The worker's process: `python -m etl.entrypoints.worker`, what Cloud Run runs.

Configured by the environment only, read once here: `etl.config.from_env` (GOOGLE_CLOUD_PROJECT,
ETL_STAGE, BIGTABLE_INSTANCE, the emulator hosts, ...), and `PORT` (Cloud Run sets it on a
service): then GET / and /healthz answer 200 while the pull loop is alive, 503 once it died, on
`ETL_HEALTH_HOST` (default 0.0.0.0, as Cloud Run needs).

SIGTERM or SIGINT stops it within Cloud Run's 10 s: the batch in hand is finished (acked, or nacked
if it fails), what was received besides is nacked, counters are flushed, exit status 0. A loop that
dies by itself exits 1 (the platform restarts it; its unacknowledged messages are redelivered).
A configuration mistake is one line on stderr and exit status 2.

`etl serve --pipeline worker` runs `run` below, in each of its processes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from etl import config, pipeline, wiring
from etl.config import InvalidConfig, Settings
from etl.entrypoints import health
from etl.entrypoints.pull_loop import PULL_MODES, Worker, WorkerOptions
from etl.logs import log

__all__ = ["PULL_MODES", "Process", "WorkerOptions", "main", "run"]

ALL_INTERFACES = "0.0.0.0"
PRODUCTION = WorkerOptions(pull="streaming")
"""Streaming pull: the stream keeps messages coming while a batch is handled."""


def run(
    settings: Settings,
    stop: threading.Event,
    options: WorkerOptions = PRODUCTION,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """The pull loop on the worker's subscription until `stop` is set (see `Worker.run`)."""
    rt, table, bus = wiring.build(settings)
    path = bus.subscription_path(settings.subscription(pipeline.WORKER.consumer))
    try:
        with start_up_heap_frozen():
            on_ready()
            Worker(rt, bus.subscriber, path, options).run(stop)
    finally:
        bus.close()
        table.close()


@contextlib.contextmanager
def start_up_heap_frozen() -> Iterator[None]:
    """Keep what the process holds once wired out of the cycle collector's full passes while the
    loop runs (`gc.freeze`); returned to it afterwards.

    Why: the modules, the clients' protobuf descriptors and channels are ~100k tracked objects
    that live as long as the process, and every full (generation 2) collection walked them all:
    120-300 ms each on a loaded 2-core machine (timed with `gc.callbacks` in the worker, two to
    four in a 35 s latency run), a pause every message in flight waited out (the latency tail; see
    docs/performance.md). Objects the loop makes later are collected as before."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class Process:
    """What the process itself is configured with, beside the pipeline's `Settings`."""

    settings: Settings
    health_port: int | None = None
    health_host: str = ALL_INTERFACES

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Process:
        port = environ.get("PORT") or None
        if port is not None and not (port.isdigit() and int(port) <= 65535):
            raise InvalidConfig(f"PORT must be a TCP port number, got {port!r}")
        return cls(
            settings=config.from_env(environ),
            health_port=int(port) if port is not None else None,
            health_host=environ.get("ETL_HEALTH_HOST") or ALL_INTERFACES,
        )


def serve(process: Process, stop: threading.Event) -> int:
    """Run the pull loop (answering health checks if a port is given) until `stop` is set or
    the loop dies; the exit status."""
    failed = threading.Event()

    def loop() -> None:
        try:
            run(process.settings, stop)
        except Exception:
            failed.set()
            log.exception("the pull loop died")

    thread = threading.Thread(target=loop, name="pull-loop")
    with contextlib.ExitStack() as stack:
        thread.start()
        if process.health_port is not None:
            stack.enter_context(
                health.serving(process.health_host, process.health_port, thread.is_alive)
            )
        thread.join()
    if failed.is_set() or not stop.is_set():
        return 1
    return 0


def main(environ: Mapping[str, str] = os.environ) -> int:
    try:
        process = Process.from_env(environ)
    except InvalidConfig as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    stop = threading.Event()

    def stopping(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stopping)
    return serve(process, stop)


if __name__ == "__main__":
    sys.exit(main())
