"""`etl serve`: run a pipeline shape locally, triggered exactly like production.

`current` and `fanout` serve `main.py`'s functions with functions-framework (one HTTP server per
function) and point push subscriptions at them, with the push path `/projects/P/topics/T` so the
CloudEvent `source` names the topic as Eventarc would. `worker` runs the streaming-pull worker.
With `--processes N`, N processes serve each push endpoint (or pull the worker's subscription),
like concurrent instances (`etl_harness.instances`).
On shutdown, push subscriptions are turned back into pull subscriptions, so messages published
while nothing serves wait in the backlog instead of failing into the dead-letter topic.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from werkzeug.serving import LISTEN_QUEUE, BaseWSGIServer, make_server

from etl import wiring
from etl.adapters.pubsub import PubSub
from etl.config import Settings
from etl.entrypoints import functions
from etl.entrypoints.worker import Worker, WorkerOptions
from etl.logs import log
from etl_harness import instances, provision
from etl_harness.etl_toml import Resources, Subscription
from etl_harness.local import Local

PIPELINES = ("current", "fanout", "worker")


FUNCTIONS = {
    "current": ("pubsub_receiver",),
    "fanout": ("write_event", "calculate_occupancy", "hourly_counts", "daily_peak"),
}
"""The entry points of `main.py` each shape runs; etl.toml says which subscription feeds each."""


def triggers(resources: Resources, pipeline: str) -> list[Subscription]:
    """The seeded subscriptions whose `function` belongs to the shape, in the shape's order."""
    if pipeline not in FUNCTIONS:
        raise ValueError(f"no functions for pipeline {pipeline!r}")
    by_function = {s.function: s for s in resources.subscriptions if s.function}
    missing = [f for f in FUNCTIONS[pipeline] if f not in by_function]
    if missing:
        raise ValueError(f"etl.toml has no subscription with function = {missing[0]!r}")
    return [by_function[f] for f in FUNCTIONS[pipeline]]


def main_py() -> str:
    """The deployed `main.py`, as installed beside `etl` (a top-level module of the project)."""
    spec = importlib.util.find_spec("main")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("main.py of etl-pipeline is not installed")
    return spec.origin


def function_app(target: str) -> Any:
    import functions_framework

    return functions_framework.create_app(target=target, source=main_py())


def listening_socket(host: str) -> socket.socket:
    """A listening TCP socket on a free port of `host`, for every process serving one function.

    Non-blocking: all of them wake up for a new connection and one accepts it; the others go back
    to their loop instead of waiting in `accept()`, where a shutdown could not reach them.
    """
    sock = socket.create_server((host, 0), backlog=LISTEN_QUEUE)
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def functions_on(settings: Settings, host: str, sockets: Mapping[str, int]) -> Iterator[None]:
    """`main.py`'s functions (target → listening socket) served by this process for the block;
    its counters flushed at the end."""
    rt = functions.configure(settings)  # the functions served here run on these settings
    servers: list[BaseWSGIServer] = []
    try:
        for target, fd in sockets.items():
            server = make_server(host, 0, function_app(target), threaded=True, fd=fd)
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


@contextlib.contextmanager
def serving_functions(
    local: Local, pipeline: str, host: str | None = None, processes: int = 1
) -> Iterator[dict[str, str]]:
    """Serve the shape's functions from `processes` processes (this one and instances) and wire
    push subscriptions to them; yields target → URL.

    Servers bind `host` (default `settings.functions_host`); push endpoints always say `localhost`,
    which our emulator's container rewrites to the Docker host, so one URL works natively and in
    compose (bind 0.0.0.0 there: `ETL_FUNCTIONS_HOST=0.0.0.0`).
    """
    settings = local.settings
    bind = host or settings.functions_host
    resources = provision.ensure(settings, provision.load(local))
    subscriptions = triggers(resources, pipeline)
    with contextlib.ExitStack() as stack:
        sockets: dict[str, socket.socket] = {}
        for sub in subscriptions:
            sockets[sub.function or ""] = stack.enter_context(listening_socket(bind))
        stack.enter_context(
            instances.started(local, pipeline, processes - 1, host=bind, sockets=sockets)
        )
        stack.enter_context(
            functions_on(settings, bind, {t: s.fileno() for t, s in sockets.items()})
        )
        bus = PubSub(settings)
        stack.callback(bus.close)
        urls: dict[str, str] = {}
        for sub in subscriptions:
            target = sub.function or ""
            urls[target] = f"http://localhost:{sockets[target].getsockname()[1]}"
            url = f"{urls[target]}/projects/{settings.project}/topics/{sub.topic}"
            stack.callback(_back_to_pull, bus, settings.project, sub)
            bus.put_subscription(provision.subscription_request(settings.project, sub, url))
            log.info(
                "serving", function=target, subscription=sub.name, url=url, processes=processes
            )
        yield urls


def _back_to_pull(bus: PubSub, project: str, sub: Subscription) -> None:
    """etl.toml's own subscription again: messages wait in the backlog while nothing serves."""
    with contextlib.suppress(Exception):
        bus.put_subscription(provision.subscription_request(project, sub))


def run_worker(
    local: Local,
    stop: threading.Event,
    options: WorkerOptions | None = None,
    on_ready: Callable[[], None] = lambda: None,
    processes: int = 1,
) -> None:
    """Run the streaming-pull worker on `worker-{stage}` until `stop` is set, with `processes - 1`
    more worker processes (instances) on the same subscription."""
    settings = local.settings
    options = options or WorkerOptions()
    provision.ensure(settings, provision.load(local))
    rt, table, bus = wiring.build(settings)
    # etl.toml: no message ordering; the ledger does not need it, and ordered delivery (one
    # outstanding message per key) would shrink every batch to one message per service.
    path = bus.subscription_path(settings.subscription("worker"))
    try:
        with instances.started(local, "worker", processes - 1, worker=options):
            on_ready()
            Worker(rt, bus.subscriber, path, options).run(stop)
    finally:
        bus.close()
        table.close()


def run_instance(spec: instances.Spec, stop: threading.Event, ready: Callable[[], None]) -> None:
    """What an instance started by `etl serve --processes` runs, until `stop` is set."""

    def serving() -> None:
        log.info("instance ready", pipeline=spec.pipeline)
        ready()

    if spec.pipeline == "worker":
        run_worker(spec.local, stop, spec.worker, on_ready=serving)
        return
    with functions_on(spec.local.settings, spec.host, spec.sockets):
        serving()
        stop.wait()
