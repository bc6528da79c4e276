"""`etl serve`: run a pipeline shape locally, triggered exactly like production.

`current` and `fanout` serve `main.py`'s functions with functions-framework (one HTTP server per
function) and point push subscriptions at them, with the push path `/projects/P/topics/T` so the
CloudEvent `source` names the topic as Eventarc would. `worker` runs the streaming-pull worker.
On shutdown, push subscriptions are turned back into pull subscriptions, so messages published
while nothing serves wait in the backlog instead of failing into the dead-letter topic.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from etl import wiring
from etl.config import Settings
from etl.logs import log
from etl.worker import Worker, WorkerOptions

MAIN = Path(__file__).resolve().parent.parent / "main.py"
PIPELINES = ("current", "fanout", "worker")


@dataclass(frozen=True, slots=True)
class Trigger:
    """One Pub/Sub-triggered function: its entry point, topic and subscription consumer name."""

    target: str
    topic: str
    consumer: str


def triggers(settings: Settings, pipeline: str) -> list[Trigger]:
    if pipeline == "current":
        return [Trigger("pubsub_receiver", settings.events_topic, "pubsub-receiver")]
    if pipeline == "fanout":
        return [
            Trigger("write_event", settings.events_topic, "write-event"),
            Trigger("calculate_occupancy", settings.written_topic, "calculate-occupancy"),
            Trigger("hourly_counts", settings.written_topic, "hourly-counts"),
        ]
    raise ValueError(f"no functions for pipeline {pipeline!r}")


def function_app(target: str) -> Any:
    import functions_framework

    return functions_framework.create_app(target=target, source=str(MAIN))


@contextlib.contextmanager
def serving_functions(
    settings: Settings, pipeline: str, host: str | None = None
) -> Iterator[dict[str, str]]:
    """Serve the shape's functions and wire push subscriptions to them; yields target → URL.

    Servers bind `host` (default `settings.functions_host`); push endpoints always say `localhost`,
    which our emulator's container rewrites to the Docker host, so one URL works natively and in
    compose (bind 0.0.0.0 there: `ETL_FUNCTIONS_HOST=0.0.0.0`).
    """
    bind = host or settings.functions_host
    _, table, bus = wiring.build(settings)
    wiring.ensure_resources(settings, table, bus)
    servers: list[tuple[Trigger, BaseWSGIServer]] = []
    try:
        for trigger in triggers(settings, pipeline):
            server = make_server(bind, 0, function_app(trigger.target), threaded=True)
            threading.Thread(target=server.serve_forever, name=trigger.target, daemon=True).start()
            servers.append((trigger, server))
            path = f"/projects/{settings.project}/topics/{trigger.topic}"
            url = f"http://localhost:{server.server_port}{path}"
            bus.ensure_subscription(
                settings.subscription(trigger.consumer), trigger.topic, push_endpoint=url
            )
            log.info("serving", function=trigger.target, url=url)
        yield {t.target: f"http://localhost:{s.server_port}" for t, s in servers}
    finally:
        for trigger, server in servers:
            with contextlib.suppress(Exception):
                bus.ensure_subscription(settings.subscription(trigger.consumer), trigger.topic)
            server.shutdown()
            server.server_close()
        bus.close()
        table.close()


def run_worker(
    settings: Settings,
    stop: threading.Event,
    options: WorkerOptions | None = None,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Run the streaming-pull worker on `worker-{stage}` until `stop` is set."""
    pipe, table, bus = wiring.build(settings)
    wiring.ensure_resources(settings, table, bus)
    # No message ordering: the ledger does not need it, and ordered delivery (one outstanding
    # message per key) would shrink every batch to one message per service.
    path = bus.ensure_subscription(settings.subscription("worker"), settings.events_topic)
    on_ready()
    try:
        Worker(pipe, bus.subscriber, path, options or WorkerOptions()).run(stop)
    finally:
        bus.close()
        table.close()
