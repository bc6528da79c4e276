"""The HTTP server layer of `etl serve` alone: CPU seconds its process spends per 1,000 push-sized
requests to a trivial WSGI app, for each server `etl_harness/function_servers.py` could run.

The server runs in a process of its own on a listening socket handed down as an fd (as `etl serve`
hands its instances theirs), with a pool of `--threads` threads; a keep-alive client keeps
`--connections` requests in flight (the emulator's push window per subscription) and the server
process's CPU time (user + system) over the run is what it cost. The app answers `OK` after
`--handler-ms` off the GIL, so the figure is the server's own: its I/O loop, HTTP parsing, threads
and hand-offs; `--app function` puts functions-framework's app (Flask, the CloudEvent conversion)
in front of the same wait, to price the layer above the server. Servers other than waitress are
optional installs (`pip install cheroot`): they are measured here, not used by `etl serve`.

    python bench/http_servers.py [--requests N] [--connections C] [--threads T]
        [--handler-ms MS] [--app trivial|function] [--rounds R]
        [--servers waitress,waitress-lookahead,waitress-select,cheroot]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

BODY = json.dumps(
    {
        "message": {"data": "eyJzaXRlIjogInMxIn0=" * 8, "messageId": "1", "attributes": {}},
        "subscription": "projects/p/subscriptions/s",
    }
).encode()
"""A push body of about the emulator's size."""

REQUEST = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
)


STALLED_S = 300
"""Seconds a run may take before the server is taken for dead (its process's error is above)."""

HANDLER_S = [0.0]
"""How long the app waits per request (`--handler-ms`), off the GIL as a Bigtable call waits."""


def trivial_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Reads the body, waits `HANDLER_S`, answers `OK` as functions-framework does: nothing but
    the server's own work is left to measure."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if HANDLER_S[0]:
        time.sleep(HANDLER_S[0])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"OK"]


FUNCTION = """
import time
import functions_framework

@functions_framework.cloud_event
def push(event):
    time.sleep(%r)
"""
"""The `--app function` case: a Pub/Sub function that only waits, behind functions-framework."""


def app_of(name: str) -> Callable[..., Iterable[bytes]]:
    """`trivial` (the server alone) or `function` (plus functions-framework and Flask)."""
    if name == "trivial":
        return trivial_app
    import functions_framework

    source = os.path.join(tempfile.mkdtemp(), "main.py")
    with open(source, "w") as out:
        out.write(FUNCTION % HANDLER_S[0])
    app: Callable[..., Iterable[bytes]] = functions_framework.create_app("push", source)
    return app


def serve_waitress(app: Any, sock: socket.socket, threads: int, extra: dict[str, Any]) -> None:
    """waitress as `etl_harness/function_servers.py` runs it: a poll loop, connections raised."""
    from waitress.server import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # queued requests expected
    server = create_server(
        app,
        sockets=[sock],
        threads=threads,
        connection_limit=1000,
        **{"asyncore_use_poll": True, **extra},
    )
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.run()


def serve_cheroot(app: Any, sock: socket.socket, threads: int) -> None:
    """cheroot (a selectors/epoll keep-alive manager and a thread pool) on the handed socket."""
    from cheroot import wsgi

    class Handed(wsgi.Server):  # type: ignore[misc]  # cheroot ships no stubs
        keep_alive_conn_limit = 1000  # its default of 10 closes most of a push window

        def bind(self, family: int, type: int, proto: int = 0) -> None:
            self.socket = sock  # the handed socket where cheroot would bind its own

        def prepare(self) -> None:
            super().prepare()
            self.socket.settimeout(0)  # its 1 s would stall the selector on a lost accept race
            # inherited by accepted sockets: without it a response's head and body wait on Nagle
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    server = Handed(
        sock.getsockname(), app, numthreads=threads, request_queue_size=1024, timeout=30
    )
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.safe_start()


def serve(kind: str, fd: int, threads: int, app_name: str, handler_ms: float) -> None:
    """Serve the app on the listening socket `fd` with `kind`'s server until SIGTERM."""
    HANDLER_S[0] = handler_ms / 1000
    sock, app = socket.socket(fileno=fd), app_of(app_name)
    if kind == "cheroot":
        serve_cheroot(app, sock, threads)
    elif kind in SERVERS:
        serve_waitress(app, sock, threads, SERVERS[kind])
    else:
        raise SystemExit(f"unknown server {kind!r}")


SERVERS: dict[str, dict[str, Any]] = {
    "waitress": {},
    "waitress-lookahead": {"channel_request_lookahead": 5},
    "waitress-select": {"asyncore_use_poll": False},
}
"""The waitress variants measured, by their settings beyond `serve_waitress`'s."""


async def _connection(port: int, left: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while left[0] > 0:
        left[0] -= 1
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 2"):
            raise RuntimeError(head.decode(errors="replace"))
    writer.close()


async def drive(port: int, requests: int, connections: int) -> None:
    """`requests` POSTs over `connections` keep-alive connections, each one in flight at a time."""
    left = [requests]
    clients = asyncio.gather(*(_connection(port, left) for _ in range(connections)))
    await asyncio.wait_for(clients, STALLED_S)  # a server that died or stopped answering


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its threads so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, args: argparse.Namespace) -> dict[str, float]:
    """One server process, a warm-up, then `args.requests` timed: its CPU per 1,000 and the rate."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    port = listener.getsockname()[1]
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            kind,
            "--fd",
            str(listener.fileno()),
            "--threads",
            str(args.threads),
            "--handler-ms",
            str(args.handler_ms),
            "--app",
            args.app,
        ],
        pass_fds=[listener.fileno()],
    )
    try:
        asyncio.run(drive(port, min(args.requests, 2000), args.connections))  # imports, threads
        cpu0, t0 = cpu_s(child.pid), time.perf_counter()
        asyncio.run(drive(port, args.requests, args.connections))
        cpu, wall = cpu_s(child.pid) - cpu0, time.perf_counter() - t0
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=10)
        listener.close()
    return {
        "cpu_s_per_1000": round(cpu / args.requests * 1000, 4),
        "requests_per_s": round(args.requests / wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=64, help="the registry's concurrency")
    parser.add_argument("--handler-ms", type=float, default=0.0)
    parser.add_argument("--app", choices=("trivial", "function"), default="trivial")
    parser.add_argument("--servers", default="waitress,waitress-lookahead,waitress-select,cheroot")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.fd, args.threads, args.app, args.handler_ms)
        return
    unknown = set(args.servers.split(",")) - {*SERVERS, "cheroot"}
    if unknown or ("cheroot" in args.servers and importlib.util.find_spec("cheroot") is None):
        sys.exit(f"servers: {', '.join(unknown) or 'cheroot'} not available (see --help)")
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in args.servers.split(",")}
    for _ in range(args.rounds):  # alternated, so a burst of load elsewhere hits every server
        for kind, results in runs.items():
            results.append(measure(kind, args))
    report = {
        kind: {
            "cpu_s_per_1000": [r["cpu_s_per_1000"] for r in results],
            "median_cpu_s_per_1000": statistics.median(r["cpu_s_per_1000"] for r in results),
            "requests_per_s": [r["requests_per_s"] for r in results],
        }
        for kind, results in runs.items()
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
