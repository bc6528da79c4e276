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

Push authentication, as Cloud Run requires it of a service that does not allow unauthenticated
calls: a function whose subscription declares `oidc_token` in etl.toml, or every function with
`require_push_auth` (`etl serve --require-push-auth`), is pushed to with a token (service
account, audience: the declared one, else the function's URL as Cloud Run's service URL is) that
our Pub/Sub emulator signs, and refuses requests without a valid one (401; 403 for another
account) before the function runs, so Pub/Sub redelivers them. Google's emulator signs nothing:
`PushAuthUnavailable` rather than every delivery refused.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

from etl.adapters.pubsub import PubSub
from etl.entrypoints import worker
from etl.entrypoints.worker import WorkerOptions
from etl.logs import log
from etl.pipeline import SHAPES, shape_functions
from etl_harness import instances, provision
from etl_harness.etl_toml import OidcToken, Resources, Subscription
from etl_harness.function_servers import functions_on, listening_socket
from etl_harness.local import Local
from etl_harness.push_auth import PushAuthUnavailable, Requirement, fetch_certs, serve_account

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
    local: Local,
    pipeline: str,
    host: str | None = None,
    processes: int = 1,
    *,
    require_push_auth: bool = False,
    certs_url: str | None = None,
) -> Iterator[dict[str, str]]:
    """Serve the shape's functions from `processes` processes (this one and instances) and wire
    push subscriptions to them; yields target → URL.

    Servers bind `host` (default `settings.functions_host`); push endpoints always say `localhost`,
    which our emulator's container rewrites to the Docker host, so one URL works natively and in
    compose (bind 0.0.0.0 there: `ETL_FUNCTIONS_HOST=0.0.0.0`). Functions requiring push tokens
    (see the module) verify them against `certs_url`, our emulator's certificates:
    `PushAuthUnavailable` when it is None or does not answer.
    """
    settings = local.settings
    bind = host or settings.functions_host
    resources = provision.ensure(settings, provision.load(local))
    subscriptions = triggers(resources, pipeline)
    with contextlib.ExitStack() as stack:
        sockets: dict[str, socket.socket] = {}
        for sub in subscriptions:
            sockets[sub.function or ""] = stack.enter_context(listening_socket(bind))
        urls = {t: f"http://localhost:{s.getsockname()[1]}" for t, s in sockets.items()}
        tokens = push_tokens(subscriptions, urls, settings.project, require_push_auth)
        required = requirements(tokens, certs_url)
        stack.enter_context(
            instances.started(local, pipeline, processes - 1, sockets=sockets, push_auth=required)
        )
        fds = {t: s.fileno() for t, s in sockets.items()}
        stack.enter_context(functions_on(settings, fds, required))
        bus = PubSub(settings)
        stack.callback(bus.close)
        for sub in subscriptions:
            target = sub.function or ""
            url = f"{urls[target]}/projects/{settings.project}/topics/{sub.topic}"
            pushed = replace(sub, oidc_token=tokens.get(target))
            stack.callback(_back_to_pull, bus, settings.project, sub)
            bus.put_subscription(provision.subscription_request(settings.project, pushed, url))
            log.info(
                "serving", function=target, subscription=sub.name, url=url, processes=processes,
                push_auth=target in required,
            )  # fmt: skip
        yield urls


def push_tokens(
    subscriptions: list[Subscription], urls: dict[str, str], project: str, required: bool
) -> dict[str, OidcToken]:
    """Function target → the token its push subscription carries: its subscription's
    `oidc_token`, else (`required`) one of `push_auth.serve_account`; the audience as declared,
    else the function's URL (a Cloud Run service's default audience is its URL)."""
    tokens: dict[str, OidcToken] = {}
    for sub in subscriptions:
        target = sub.function or ""
        declared = sub.oidc_token or (OidcToken(serve_account(project)) if required else None)
        if declared:
            tokens[target] = replace(declared, audience=declared.audience or urls[target])
    return tokens


NOT_OURS = (
    "push auth needs our Pub/Sub emulator, which signs push requests; Google's emulator sends "
    "no token, so every delivery would be refused"
)


def requirements(tokens: dict[str, OidcToken], certs_url: str | None) -> dict[str, Requirement]:
    """What each function with a token requires of push requests; `PushAuthUnavailable` when
    `certs_url` (our emulator's certificates) is None or serves none."""
    if not tokens:
        return {}
    if certs_url is None:
        raise PushAuthUnavailable(f"no admin API of our Pub/Sub emulator is known: {NOT_OURS}")
    try:
        fetch_certs(certs_url)
    except PushAuthUnavailable as err:
        raise PushAuthUnavailable(f"{err}: {NOT_OURS}") from None
    return {
        target: Requirement(token.audience or "", token.service_account_email, certs_url)
        for target, token in tokens.items()
    }


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
