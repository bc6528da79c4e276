"""A local push endpoint for the bench: answers every Pub/Sub push with 204 and counts each message
id once (an emulator may redeliver), so a push rate is "distinct messages delivered per second"."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


class PushEndpoint(ThreadingHTTPServer):
    """`done` is set once `expected` distinct message ids have arrived."""

    daemon_threads = True
    request_queue_size = 128
    """A web server's listen backlog (socketserver's default of 5 drops the SYNs of an emulator
    opening its push window's connections at once, and each dropped one waits a second)."""

    def __init__(self, expected: int) -> None:
        super().__init__((HOST, 0), _PushHandler)
        self.expected = expected
        self.done = threading.Event()
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/push"

    @property
    def received(self) -> int:
        with self._lock:
            return len(self._ids)

    def record(self, message_id: str) -> None:
        with self._lock:
            self._ids.add(message_id)
            if len(self._ids) >= self.expected:
                self.done.set()


class _PushHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per emulator push worker
    server: PushEndpoint

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        message = json.loads(body)["message"]
        self.server.record(message.get("messageId") or message["message_id"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one line per push would be most of the bench's output."""


@contextlib.contextmanager
def serving(expected: int) -> Iterator[PushEndpoint]:
    """A `PushEndpoint` answering on a free port for the block, shut down after it."""
    endpoint = PushEndpoint(expected)
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.shutdown()
        endpoint.server_close()
        thread.join()
