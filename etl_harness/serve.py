"""`etl serve`: run a pipeline shape locally, triggered exactly like production.

`current` and `fanout` serve `main.py`'s functions with functions-framework (one HTTP server per
function) and point push subscriptions at them, with the push path `/projects/P/topics/T` so the
CloudEvent `source` names the topic as Eventarc would. `worker` runs the streaming-pull worker.
On shutdown, push subscriptions are turned back into pull subscriptions, so messages published
while nothing serves wait in the backlog instead of failing into the dead-letter topic.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from collections.abc import Callable, Iterator
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from etl import wiring
from etl.adapters.pubsub import PubSub
from etl.entrypoints import functions
from etl.entrypoints.worker import Worker, WorkerOptions
from etl.logs import log
from etl_harness import provision
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


@contextlib.contextmanager
def serving_functions(
    local: Local, pipeline: str, host: str | None = None
) -> Iterator[dict[str, str]]:
    """Serve the shape's functions and wire push subscriptions to them; yields target → URL.

    Servers bind `host` (default `settings.functions_host`); push endpoints always say `localhost`,
    which our emulator's container rewrites to the Docker host, so one URL works natively and in
    compose (bind 0.0.0.0 there: `ETL_FUNCTIONS_HOST=0.0.0.0`).
    """
    settings = local.settings
    bind = host or settings.functions_host
    resources = provision.ensure(settings, provision.load(local))
    functions.configure(settings)  # the functions served here run on these settings
    bus = PubSub(settings)
    servers: list[tuple[Subscription, BaseWSGIServer]] = []
    try:
        for sub in triggers(resources, pipeline):
            target = sub.function or ""
            server = make_server(bind, 0, function_app(target), threaded=True)
            threading.Thread(target=server.serve_forever, name=target, daemon=True).start()
            servers.append((sub, server))
            path = f"/projects/{settings.project}/topics/{sub.topic}"
            url = f"http://localhost:{server.server_port}{path}"
            bus.put_subscription(provision.subscription_request(settings.project, sub, url))
            log.info("serving", function=target, subscription=sub.name, url=url)
        yield {s.function or "": f"http://localhost:{srv.server_port}" for s, srv in servers}
    finally:
        for sub, server in servers:
            with contextlib.suppress(Exception):
                # back to etl.toml's own: pull
                bus.put_subscription(provision.subscription_request(settings.project, sub))
            server.shutdown()
            server.server_close()
        bus.close()


def run_worker(
    local: Local,
    stop: threading.Event,
    options: WorkerOptions | None = None,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Run the streaming-pull worker on `worker-{stage}` until `stop` is set."""
    settings = local.settings
    provision.ensure(settings, provision.load(local))
    rt, table, bus = wiring.build(settings)
    # etl.toml: no message ordering; the ledger does not need it, and ordered delivery (one
    # outstanding message per key) would shrink every batch to one message per service.
    path = bus.subscription_path(settings.subscription("worker"))
    on_ready()
    try:
        Worker(rt, bus.subscriber, path, options or WorkerOptions()).run(stop)
    finally:
        bus.close()
        table.close()
