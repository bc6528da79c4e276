"""Fault injection for the reliability suite: processes to kill, proxies that fail, exact checks.

- `Served`: `etl serve` in a subprocess that can be SIGKILLed and restarted; it keeps the JSON log
  lines (to count "batch failed") and the function URLs the process announced.
- `PushProxy`: an HTTP server in front of a function that decides per push request whether to
  forward it and what to answer (e.g. forward, then answer 500 once per message id: a redelivery
  of a message that was already processed).
- `TcpProxy`: a TCP forwarder in front of the Bigtable emulator that can refuse and cut
  connections for a while (the backend "unavailable").
- `assert_exact`: the final check of every reliability test.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import Settings, from_env
from etl.service.simulation import Request, simulate_before
from etl_core import (
    Event,
    Simulation,
)
from etl_harness import provision, settling
from etl_harness.cli import commands
from etl_harness.serve import triggers

T = TypeVar("T")
SETTLE_S = float(os.environ.get("ETL_TEST_SETTLE_TIMEOUT", "120"))
"""The bound of every e2e wait on a condition, in seconds: raise it on a slow machine, lower it
for mutation runs."""
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Rig:
    """One isolated project per test: its settings, table, bus and a directory for logs."""

    settings: Settings
    table: EventTable
    bus: PubSub
    logs: Path

    def served(
        self, pipeline: str, *args: str, **env: str
    ) -> contextlib.AbstractContextManager[Served]:
        """`served` for this project, its log in `logs`."""
        return served(self.settings, pipeline, self.logs, *args, **env)

    def wait_settled(
        self, events: Sequence[Event], *, hourly: bool, timeout: float = SETTLE_S
    ) -> None:
        """`wait_settled` on this project's table."""
        wait_settled(self.table, events, hourly=hourly, timeout=timeout)

    def assert_exact(self, events: Sequence[Event], *, hourly: bool) -> None:
        """`assert_exact` on this project."""
        assert_exact(self.settings, self.table, events, hourly=hourly)


# --- waiting ---


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- etl serve in a subprocess ---


@dataclass
class Served:
    """`etl serve --pipeline P [args]` for one project; `kill()` is SIGKILL, `start()` restarts."""

    settings: Settings
    pipeline: str
    log_dir: Path
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    name: str = ""
    module: str = "etl_harness"
    records: list[dict[str, Any]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: threading.Thread | None = None
    _raw: list[bytes] = field(default_factory=list)
    paused: threading.Event = field(default_factory=threading.Event)

    def start(self, timeout: float = 60) -> Served:
        ready = threading.Event()
        env = {
            **os.environ,
            "GOOGLE_CLOUD_PROJECT": self.settings.project,
            "ETL_STAGE": self.settings.stage,
            **self.env,
        }
        self.urls = {}
        self.paused = threading.Event()
        proc = subprocess.Popen(
            # -v: the info logs ("serving" with each function's URL, "processed", "worker stopped")
            [
                sys.executable,
                "-m",
                self.module,
                "-v",
                "serve",
                "--pipeline",
                self.pipeline,
                *self.args,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.proc = proc

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self._raw.append(line)
                if line.startswith(b"ready:"):
                    ready.set()
                    continue
                if line.startswith(b"paused:"):
                    self.paused.set()
                    continue
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    with self._lock:
                        self.records.append(record)
                    if record.get("message") == "serving":
                        self.urls[record["function"]] = record["url"]

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()
        if not ready.wait(timeout):
            self.stop()
            tail = b"".join(self._raw[-40:]).decode(errors="replace")
            raise AssertionError(f"etl serve never became ready:\n{tail}")
        return self

    def log_count(self, message: str) -> int:
        """How many JSON log lines (over every run of this process) have this `message`."""
        with self._lock:
            return sum(1 for r in self.records if r.get("message") == message)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (no nack, no push config reset, nothing flushed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.join(10)
            self._reader = None
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        log = self.log_dir / f"serve-{self.pipeline}{self.name}.log"
        log.write_bytes(b"".join(self._raw))


@contextlib.contextmanager
def served(
    settings: Settings,
    pipeline: str,
    log_dir: Path,
    *args: str,
    name: str = "",
    module: str = "etl_harness",
    **env: str,
) -> Iterator[Served]:
    proc = Served(settings, pipeline, log_dir, args, dict(env), name, module).start()
    try:
        yield proc
    finally:
        proc.stop()


# --- an HTTP proxy in front of a pushed function ---


Decision = tuple[bool, int | None]
"""(forward the request?, status to answer instead of the function's; None = the function's)."""


def message_id_of(body: bytes) -> str:
    message = json.loads(body)["message"]
    return str(message.get("messageId") or message.get("message_id"))


class PushProxy:
    """Forwards push requests to `targets` (function base URLs, in turn) as `decide` says.

    `decide(message_id, n)`: `n` counts the requests for that message id so far, this one included
    (1 = first delivery). Several targets are served round-robin: concurrent instances.
    """

    def __init__(
        self,
        targets: str | Sequence[str],
        decide: Callable[[str, int], Decision] = lambda _id, _n: (True, None),
        host: str | None = None,
    ) -> None:
        self.targets = [t.rstrip("/") for t in ([targets] if isinstance(targets, str) else targets)]
        self.decide = decide
        self.per_target: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.answers: Counter[int] = Counter()
        self.forwarded = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.handle(self, body)

            def log_message(self, *args: object) -> None:
                return

        # Reachable from a containerised emulator too (ETL_FUNCTIONS_HOST=0.0.0.0 under compose).
        self.server = ThreadingHTTPServer((host or from_env(os.environ).functions_host, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://localhost:{self.server.server_port}"

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        message_id = message_id_of(body)
        with self._lock:
            self.seen[message_id] += 1
            forward, override = self.decide(message_id, self.seen[message_id])
            target = self.targets[sum(self.seen.values()) % len(self.targets)]
            self.per_target[target] += forward
        status = 502
        if forward:
            status = self._forward(target + request.path, body, dict(request.headers))
            with self._lock:
                self.forwarded += 1
        answer = override if override is not None else status
        with self._lock:
            self.answers[answer] += 1
        request.send_response(answer)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def _forward(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        req = urllib.request.Request(url, data=body, headers=keep, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return 502

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fail_first_after_forwarding(message_id: str, n: int) -> Decision:
    """The function runs (and writes), then the caller sees 500: Pub/Sub redelivers it once."""
    del message_id
    return True, (500 if n == 1 else None)


def point_push(bus: PubSub, settings: Settings, subscription: str, topic: str, url: str) -> None:
    """Re-point a push subscription, keeping the Eventarc-like `/projects/P/topics/T` path."""
    path = f"/projects/{settings.project}/topics/{topic}"
    bus.ensure_subscription(subscription, topic, push_endpoint=url + path)


@contextlib.contextmanager
def proxied(
    bus: PubSub,
    settings: Settings,
    serve: Served,
    decide: Callable[[str, int], Decision],
    targets: Sequence[tuple[str, str, str]],
) -> Iterator[dict[str, PushProxy]]:
    """A `PushProxy` in front of each (function, subscription, topic) of a served push shape."""
    proxies = {fn: PushProxy(base_url(serve, fn), decide) for fn, _, _ in targets}
    try:
        for fn, subscription, topic in targets:
            point_push(bus, settings, subscription, topic, proxies[fn].url)
        yield proxies
    finally:
        for proxy in proxies.values():
            proxy.close()


def base_url(serve: Served, function: str) -> str:
    return serve.urls[function].split("/projects/")[0]


def push_targets(settings: Settings, pipeline: str) -> list[tuple[str, str, str]]:
    """(function, subscription, topic) of each function of a push shape, as etl.toml has them."""
    resources = provision.load().resources(settings.stage, settings.project)
    return [(s.function or "", s.name, s.topic) for s in triggers(resources, pipeline)]


# --- a TCP proxy that can make a backend unavailable ---


class TcpProxy:
    """Forwards TCP connections to `upstream` ("host:port") until `down()`; `up()` restores.

    While down, open connections are cut and new ones are accepted and closed at once, which a gRPC
    client sees as UNAVAILABLE.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.available = threading.Event()
        self.available.set()
        self.refused = 0
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def down(self) -> None:
        self.available.clear()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def up(self) -> None:
        self.available.set()

    def close(self) -> None:
        self._closed = True
        self.down()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.available.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                backend = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, backend}
            threading.Thread(target=self._pipe, args=(client, backend), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                if not self.available.is_set():
                    break
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._conns -= {a, b}


# --- publishing what the faults need ---


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def publish_with_duplicates(
    bus: PubSub, topic: str, events: Sequence[Event], seed: int
) -> tuple[list[Event], int]:
    """Publish each event 1-3 times (separate messages, same eventId), in shuffled order.

    Returns what was published and how many messages were extra copies.
    """
    rng = random.Random(seed)
    published = [e for e in events for _ in range(rng.choice((1, 2, 3)))]
    rng.shuffle(published)
    bus.publish(topic, (Outgoing(e.to_json()) for e in published))
    return published, len(published) - len(events)


# --- the final check ---


def wait_settled(
    table: EventTable, events: Sequence[Event], *, hourly: bool, timeout: float = SETTLE_S
) -> None:
    """`etl_harness.settling.wait_settled`, bounded by `ETL_TEST_SETTLE_TIMEOUT` by default."""
    settling.wait_settled(table, events, hourly=hourly, timeout=timeout)


def assert_exact(
    settings: Settings, table: EventTable, events: Sequence[Event], *, hourly: bool
) -> None:
    """Nothing lost, nothing double counted (`mismatch` is empty), and nothing reached the
    dead-letter topic: every valid message was processed."""
    diff = settling.mismatch(table, events, hourly=hourly)
    assert not diff, diff
    letters = commands.list_dead_letters(settings)
    assert letters == [], f"{len(letters)} dead letters, e.g. {letters[0]}"


@contextlib.contextmanager
def running(run: Callable[[threading.Event], None]) -> Iterator[None]:
    """`run(stop)` (a worker's `run`) in a thread for the block; stopped and joined after."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)


def simulation(limit: int, seed: int, services: Sequence[str] | None = None) -> Simulation:
    request = Request(limit=limit, speed_factor=1e9, seed=seed)
    if services:
        request = replace(request, services=tuple(services))
    return simulate_before(datetime.now(UTC), request)


# --- crash points: `python -m tests.e2e.faults serve ...` is `etl serve` with a pause hook -------

PAUSE_ENV = "ETL_FAULT_PAUSE"
"""`module:Attr.path:n`: from the n-th call of that function on, every caller blocks *before* the
call, after printing `paused:` on stderr, so a test can SIGKILL the process at that exact point."""


def install_pause(spec: str) -> None:
    import importlib

    module_name, path, nth = spec.split(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = 0
    lock = threading.Lock()

    def paused(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        with lock:
            calls += 1
            due = calls >= int(nth)
        if due:
            sys.stderr.write(f"paused: before {path} call {calls}\n")
            sys.stderr.flush()
            threading.Event().wait()
        return original(*args, **kwargs)

    setattr(owner, name, paused)


if __name__ == "__main__":
    if os.environ.get(PAUSE_ENV):
        install_pause(os.environ[PAUSE_ENV])
    from etl_harness.cli.app import app

    app(prog_name="etl")
