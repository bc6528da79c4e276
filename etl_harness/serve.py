"""`etl serve`: run a pipeline shape locally, triggered exactly like production.

`current` and `fanout` serve `main.py`'s functions with functions-framework (one HTTP server per
function) and point push subscriptions at them, with the push path `/projects/P/topics/T` so the
CloudEvent `source` names the topic as Eventarc would. `worker` runs the worker's own entry
point, `etl.entrypoints.worker.run` (what `python -m etl.entrypoints.worker` runs in production).
Which functions a shape has comes from the registry, `etl.pipeline`.
With `--processes N`, N processes serve each push endpoint (or pull the worker's subscription),
like concurrent instances (`etl_harness.instances`).
On shutdown, push subscriptions are turned back into pull subscriptions, so messages published
while nothing serves wait in the backlog instead of failing into the dead-letter topic.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from etl.adapters.pubsub import PubSub
from etl.entrypoints import worker
from etl.entrypoints.worker import WorkerOptions
from etl.logs import log
from etl.pipeline import SHAPES, shape_functions
from etl_harness import instances, provision
from etl_harness.etl_toml import Resources, Subscription
from etl_harness.function_servers import functions_on, listening_socket
from etl_harness.local import Local

PIPELINES = SHAPES


def triggers(resources: Resources, pipeline: str) -> list[Subscription]:
    """The seeded subscriptions of the shape's functions (`etl.pipeline`), in registry order:
    each the subscription whose `function` names it."""
    names = [f.name for f in shape_functions(pipeline)]
    if not names:
        raise ValueError(f"no functions for pipeline {pipeline!r}")
    by_function = {s.function: s for s in resources.subscriptions if s.function}
    missing = [f for f in names if f not in by_function]
    if missing:
        raise ValueError(f"etl.toml has no subscription with function = {missing[0]!r}")
    return [by_function[f] for f in names]


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
    """Run the worker's entry point (`etl.entrypoints.worker.run`) on `worker-{stage}` until
    `stop` is set, with `processes - 1` more processes running it (instances) on the same
    subscription."""
    options = options or WorkerOptions()
    provision.ensure(local.settings, provision.load(local))
    with instances.started(local, "worker", processes - 1, worker=options):
        worker.run(local.settings, stop, options, on_ready)
