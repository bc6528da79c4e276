"""`main.py`'s functions served by this process as production serves them: functions-framework's
app behind an HTTP/1.1 server with keep-alive and a pool of as many threads as the function's
concurrency in the registry (Cloud Run runs functions-framework under gunicorn's threaded worker
with `THREADS` = the concurrency). One server per function, on a listening socket it is given:
what `etl serve` and each of its instances run for the shapes with functions.

The server is waitress, not gunicorn: gunicorn's arbiter forks its own workers and owns the main
thread's signals, and `etl serve` already forks its instances onto shared sockets. werkzeug's
development server, used before, closes every connection (`Connection: close`), so every push
was a new TCP connection and a new thread.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from waitress import trigger, wasyncore
from waitress.server import create_server

from etl import pipeline
from etl.config import Settings
from etl.entrypoints import functions
from etl.logs import log
from etl_harness.push_auth import Requirement, require

LISTEN_QUEUE = 1024
"""Pending connections a function's socket holds: the emulator opens up to its push window's
worth at once (a backlog of 5 refused some)."""

CONNECTIONS = 1000
"""Open connections one process keeps across its functions (waitress's default of 100 is below
what four subscriptions' push windows open)."""

POLL_S = 1.0
"""How long the I/O loop waits between checks of its stop flag (a shutdown pulls it awake)."""


def main_py() -> str:
    """The deployed `main.py`, as installed beside `etl` (a top-level module of the project)."""
    spec = importlib.util.find_spec("main")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("main.py of etl-pipeline is not installed")
    return spec.origin


def function_app(target: str, requirement: Requirement | None = None) -> Any:
    """`main.py`'s function `target` as a WSGI app; behind `requirement`'s token check when
    given, as Cloud Run puts a service that requires authentication."""
    import functions_framework

    app = functions_framework.create_app(target=target, source=main_py())
    return require(app, requirement.auth()) if requirement else app


def listening_socket(host: str) -> socket.socket:
    """A listening TCP socket on a free port of `host`, for every process serving one function.

    Non-blocking: all of them wake up for a new connection and one accepts it; the others go back
    to their loop.
    """
    sock = socket.create_server((host, 0), backlog=LISTEN_QUEUE)
    sock.setblocking(False)
    return sock


def threads_of(target: str) -> int:
    """Requests `target` serves at once: its concurrency in the registry."""
    try:
        return pipeline.function(target).concurrency
    except KeyError:  # not a Pub/Sub function of the registry: functions-framework's 1 vCPU default
        return 4


@contextlib.contextmanager
def functions_on(
    settings: Settings,
    sockets: Mapping[str, int],
    push_auth: Mapping[str, Requirement] | None = None,
) -> Iterator[None]:
    """`main.py`'s functions (target → listening socket's fd) served by this process for the
    block, those in `push_auth` only to push requests with a token they require; its counters
    flushed at the end."""
    rt = functions.configure(settings)  # the functions served here run on these settings
    # Queued requests are expected: the emulator's push window can exceed a function's threads.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # waitress's socket maps (fd → channel; its stubs say str): one I/O loop per function, as
    # each polls every connection of its map on every turn.
    maps: dict[str, dict[int, Any]] = {target: {} for target in sockets}
    servers = [
        create_server(
            function_app(target, (push_auth or {}).get(target)),
            map=maps[target],
            sockets=[socket.socket(fileno=socket.dup(fd))],
            threads=threads_of(target),
            backlog=LISTEN_QUEUE,
            connection_limit=CONNECTIONS,
            clear_untrusted_proxy_headers=False,
            ident="etl serve",
        )
        for target, fd in sockets.items()
    ]
    stop = threading.Event()
    wakes = [trigger.trigger(m) for m in maps.values()]  # type: ignore[arg-type]
    loops = [
        threading.Thread(target=_serve, args=(m, stop), name=f"http {t}", daemon=True)
        for t, m in maps.items()
    ]
    for loop in loops:
        loop.start()
    try:
        yield
    finally:
        stop.set()
        for wake in wakes:
            wake.pull_trigger()
        for loop in loops:
            loop.join(timeout=POLL_S * 5)
        for server in servers:
            server.task_dispatcher.shutdown()
        for m in maps.values():
            wasyncore.close_all(m, ignore_all=True)
        try:
            rt.flush_counters(force=True)
        except Exception as exc:  # the table may be what is failing
            log.warning("counters not flushed", error=str(exc))


def _serve(connections: dict[int, Any], stop: threading.Event) -> None:
    """waitress's I/O loop over every function's socket and connections, until `stop`."""
    while not stop.is_set() and connections:
        wasyncore.loop(timeout=POLL_S, map=connections, use_poll=True, count=1)
