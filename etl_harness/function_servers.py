"""`main.py`'s functions served by this process with functions-framework, one HTTP server per
function on a listening socket it is given: what `etl serve` and each of its instances run for
the shapes with functions."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from werkzeug.serving import LISTEN_QUEUE, BaseWSGIServer, make_server

from etl.config import Settings
from etl.entrypoints import functions
from etl.logs import log
from etl_harness.push_auth import Requirement, require


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
    to their loop instead of waiting in `accept()`, where a shutdown could not reach them.
    """
    sock = socket.create_server((host, 0), backlog=LISTEN_QUEUE)
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def functions_on(
    settings: Settings,
    host: str,
    sockets: Mapping[str, int],
    push_auth: Mapping[str, Requirement] | None = None,
) -> Iterator[None]:
    """`main.py`'s functions (target → listening socket) served by this process for the block,
    those in `push_auth` only to push requests with a token they require; its counters flushed
    at the end."""
    rt = functions.configure(settings)  # the functions served here run on these settings
    servers: list[BaseWSGIServer] = []
    required = push_auth or {}
    try:
        for target, fd in sockets.items():
            app = function_app(target, required.get(target))
            server = make_server(host, 0, app, threaded=True, fd=fd)
            server.socket.setblocking(False)
            threading.Thread(target=server.serve_forever, name=target, daemon=True).start()
            servers.append(server)
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        try:
            rt.flush_counters(force=True)
        except Exception as exc:  # the table may be what is failing
            log.warning("counters not flushed", error=str(exc))
