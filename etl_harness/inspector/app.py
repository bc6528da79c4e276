"""The inspector's Flask app, and serving it with werkzeug (as `etl serve` serves functions).

`GET /` is the page; `GET /api/state` is everything it shows, as JSON, which the page polls.
Each section is read in the background, at most once at a time, and answers within `timeout` or
shows its error: an emulator that is down or hangs never turns into a 500 or a stuck page.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, render_template
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from etl.config import Settings
from etl_core.timestamps import format_event_time
from etl_harness.inspector.history import MAX_SAMPLES
from etl_harness.inspector.sources import Section, Sources

POLL_MS = 1000
TIMEOUT = 4.0
_EXTENSION = "etl_harness.inspector"


class Probe:
    """One section, run in a daemon thread; a caller arriving while it runs shares that run.

    Daemon threads, not a pool: a call hanging on an unreachable emulator never holds up exit.
    """

    def __init__(self, name: str, section: Section) -> None:
        self._name = name
        self._section = section
        self._lock = threading.Lock()
        self._running: Future[dict[str, Any]] | None = None

    def start(self) -> Future[dict[str, Any]]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                thread = threading.Thread(
                    target=self._run, args=(self._running,), name=self._name, daemon=True
                )
                thread.start()
            return self._running

    def _run(self, future: Future[dict[str, Any]]) -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(self._section())
        except Exception as err:
            future.set_exception(err)


class Inspector:
    """The page's sections, read concurrently, each answered or reported as an error."""

    def __init__(
        self,
        sections: Mapping[str, Section],
        timeout: float = TIMEOUT,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self.timeout = timeout
        self._probes = {name: Probe(f"inspect-{name}", fn) for name, fn in sections.items()}
        self._on_close = on_close

    @classmethod
    def of(cls, settings: Settings, timeout: float = TIMEOUT) -> Inspector:
        sources = Sources(settings)
        return cls(sources.sections(), timeout, on_close=sources.close)

    def state(self) -> dict[str, dict[str, Any]]:
        running = {name: probe.start() for name, probe in self._probes.items()}
        deadline = time.monotonic() + self.timeout
        return {name: self._answer(f, deadline - time.monotonic()) for name, f in running.items()}

    def _answer(self, future: Future[dict[str, Any]], wait: float) -> dict[str, Any]:
        try:
            return future.result(max(0.0, wait))
        except TimeoutError:
            return {"error": f"no answer within {self.timeout:g} s"}
        except Exception as err:
            return {"error": describe(err)}

    def close(self) -> None:
        self._on_close()


def describe(err: Exception) -> str:
    """One line for the page: the error's type and message (gRPC messages span lines)."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"[:500]


def create_app(settings: Settings, inspector: Inspector | None = None) -> Flask:
    """The inspector of `settings`' project and stage (sections from `Sources` by default)."""
    app = Flask(__name__)
    live = inspector or Inspector.of(settings)
    app.extensions[_EXTENSION] = live

    @app.get("/")
    def index() -> str:
        return render_template(
            "index.html", settings=settings, poll_ms=POLL_MS, max_samples=MAX_SAMPLES
        )

    @app.get("/api/state")
    def state() -> Response:
        body = {
            "project": settings.project,
            "stage": settings.stage,
            "admin_host": settings.pubsub_admin_host,
            "time": format_event_time(datetime.now(UTC)),
            **live.state(),
        }
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def close(app: Flask) -> None:
    """Close the clients of an app made by `create_app`."""
    inspector: Inspector = app.extensions[_EXTENSION]
    inspector.close()


class _QuietHandler(WSGIRequestHandler):
    """Logs failed requests only: the page polls every second."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


def _server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=_QuietHandler)


def url_of(server: BaseWSGIServer) -> str:
    host = "127.0.0.1" if server.host in ("", "0.0.0.0") else server.host
    return f"http://{host}:{server.server_port}"


@contextlib.contextmanager
def serving(settings: Settings, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the inspector in a background thread (port 0: any free one); yields its URL."""
    app = create_app(settings)
    server = _server(app, host, port)
    threading.Thread(target=server.serve_forever, name="inspector", daemon=True).start()
    try:
        yield url_of(server)
    finally:
        server.shutdown()
        server.server_close()
        close(app)


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8088,
    on_ready: Callable[[str], None] = lambda url: None,
) -> None:
    """Serve the inspector until Ctrl-C; `on_ready` gets its URL."""
    app = create_app(settings)
    server = _server(app, host, port)
    on_ready(url_of(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close(app)
