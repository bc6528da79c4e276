"""The worker's health check for Cloud Run: GET / and /healthz answer 200 while its pull loop is
alive and 503 once it died, so a service restarts a process whose loop is gone. Standard library
only: one tiny endpoint does not need a web framework."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from etl.logs import log

PATHS = ("/", "/healthz")


def _handler(alive: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in PATHS:
                self._answer(404, b"not found\n")
            elif alive():
                self._answer(200, b"ok\n")
            else:
                self._answer(503, b"the pull loop has stopped\n")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes are not worth a log line each (the stdlib writes one per request)."""

    return Health


@contextlib.contextmanager
def serving(host: str, port: int, alive: Callable[[], bool]) -> Iterator[ThreadingHTTPServer]:
    """Answer health checks on `host:port` (port 0: a free one) for the block."""
    server = ThreadingHTTPServer((host, port), _handler(alive))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="health", daemon=True)
    thread.start()
    log.info("health check serving", port=server.server_address[1])
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
