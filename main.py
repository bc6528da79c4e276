"""Cloud Functions entry points (functions-framework). This directory deploys unchanged.

Pub/Sub-triggered functions receive a CloudEvent (`google.cloud.pubsub.topic.v1.messagePublished`);
returning acknowledges the message, raising makes Pub/Sub redeliver it. They are made here from
the registry (`etl.pipeline.FUNCTIONS`), one module-level name each, so `--target NAME` finds them
and a new registry entry needs no edit of this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import functions_framework

from etl import pipeline
from etl.entrypoints import functions
from etl.service import handlers


@functions_framework.http
def simulate_acceso_data(request: Any) -> tuple[str, int, dict[str, str]]:
    """HTTP: publish simulated Acceso events (`{"limit", "speedFactor"}`); 403 on prod."""
    return functions.simulate_http(request)


def _entry_point(entry: pipeline.Function) -> Callable[[Any], None]:
    """`entry`'s function: hands its CloudEvent to `functions.on_cloud_event` with its handler."""
    handler = handlers.of(entry)

    def pubsub_triggered(cloud_event: Any) -> None:
        functions.on_cloud_event(cloud_event, handler, entry.name)

    pubsub_triggered.__name__ = pubsub_triggered.__qualname__ = entry.name
    pubsub_triggered.__doc__ = entry.about
    return functions_framework.cloud_event(pubsub_triggered)


for _entry in pipeline.FUNCTIONS:
    globals()[_entry.name] = _entry_point(_entry)
del _entry
