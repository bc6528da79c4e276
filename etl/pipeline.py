"""The one registry of the pipeline: its functions, the worker, the topics and the table.

Everything else is derived from it: `main.py` makes one entry point per `Function`, `etl serve`
runs its shapes, and `nox -s generate` (deploy/generate.py) writes the registry's part of
`etl.toml` (topics, families, subscriptions), of serverless.yml (functions, families) and the
Terraform's per-stage data (`manifest()`, printed by `python -m etl.pipeline --stage S --project
P`); a unit test fails while a generated file is stale.

Plain data only, importing nothing beyond `etl.config`: the deployment checks read it without the
pipeline's dependencies installed, so a handler is named by its function in
`etl.service.handlers`, and a fan-out calculation by its ledger summary (`etl.service.ledger`'s
`SUMMARIES`), whose generic handler merges the stored event into it (`handlers.of`).

Adding a calculation: its core computation (`etl_core`), its ledger summary
(`etl.service.ledger`, listed in `SUMMARIES`) and one `Function` below naming it; then
`nox -s generate`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from etl.config import STAGES, Settings

Topic = Literal["events", "written", "dead_letter"]
"""A topic by its role; `topic_name` gives its name in a stage."""

TOPICS: tuple[Topic, ...] = ("events", "written", "dead_letter")


def topic_name(settings: Settings, topic: Topic) -> str:
    return {
        "events": settings.events_topic,
        "written": settings.written_topic,
        "dead_letter": settings.dead_letter_topic,
    }[topic]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How Pub/Sub delivers to one consumer's subscription (production's and the emulators')."""

    ack_deadline_seconds: int = 60
    minimum_backoff_seconds: float = 0.1
    maximum_backoff_seconds: float = 10
    max_delivery_attempts: int = 20
    """Then the message goes to the dead-letter topic (Pub/Sub's dead-letter policy)."""


DELIVERY = Delivery()


@dataclass(frozen=True, slots=True)
class Function:
    """A Pub/Sub-triggered Cloud Function: `main.py`'s entry point `name`."""

    name: str
    shape: Literal["current", "fanout"]
    trigger: Topic
    handler: str = ""
    """Its handler's name in `etl.service.handlers`: `(Runtime, PubSubMessage) -> Outcome`."""
    summary: str = ""
    """A fan-out calculation instead: the ledger summary (by name) it merges each event into."""
    publishes: tuple[Topic, ...] = ("dead_letter",)
    delivery: Delivery = DELIVERY
    about: str = ""
    """One line on what it does: its entry point's docstring, a comment in the generated files."""
    concurrency: int = 64
    """Pushes one instance serves at once: Cloud Run's `max_instance_request_concurrency` and
    functions-framework's `THREADS` (Google's advice: equal, and start at 8). Concurrent pushes
    share the ledger's commit groups; above 1 an instance needs a whole vCPU."""

    def __post_init__(self) -> None:
        if bool(self.handler) == bool(self.summary):
            raise ValueError(f"function {self.name!r}: give a handler or a summary, not both")
        if not 1 <= self.concurrency <= 1000:  # Cloud Run's bounds
            raise ValueError(f"function {self.name!r}: concurrency must be 1 to 1000")

    @property
    def consumer(self) -> str:
        """Its subscription's name before the stage: `write_event` → `write-event`."""
        return self.name.replace("_", "-")


@dataclass(frozen=True, slots=True)
class HttpFunction:
    """An HTTP Cloud Function, deployed only in `stages`, and never public."""

    name: str
    stages: tuple[str, ...]
    publishes: tuple[Topic, ...]


@dataclass(frozen=True, slots=True)
class Consumer:
    """A pull subscriber that is no Cloud Function: the worker, the dead-letter reader."""

    consumer: str
    trigger: Topic
    publishes: tuple[Topic, ...] = ()
    delivery: Delivery = DELIVERY
    policies: bool = True
    """Whether its subscription has the retry and dead-letter policies of `delivery`. The
    dead-letter reader's has neither: its messages are listed and released again at once."""
    about: str = ""


FUNCTIONS: tuple[Function, ...] = (
    Function(
        "pubsub_receiver",
        "current",
        "events",
        handler="handle_current",
        about="Current pipeline: write the event row and update its service's occupancy.",
    ),
    Function(
        "write_event",
        "fanout",
        "events",
        handler="handle_write_event",
        publishes=("written", "dead_letter"),
        about="Fan-out: write the event row, then republish it on the `written` topic.",
    ),
    Function(
        "calculate_occupancy",
        "fanout",
        "written",
        summary="occupancy",
        about="Fan-out calculation: current occupancy of the event's service.",
    ),
    Function(
        "hourly_counts",
        "fanout",
        "written",
        summary="hourly",
        about="Fan-out calculation: entries and exits per service-hour.",
    ),
    Function(
        "daily_peak",
        "fanout",
        "written",
        summary="daily",
        about="Fan-out calculation: peak occupancy per service per day.",
    ),
)
"""Every Pub/Sub-triggered function of `main.py`, in the order shapes list them."""

HTTP_FUNCTIONS: tuple[HttpFunction, ...] = (
    HttpFunction("simulate_acceso_data", ("dev", "test"), ("events",)),
)

WORKER = Consumer(
    "worker", "events", ("dead_letter",), about="shape `worker`: batched streaming pull"
)
"""The `worker` shape: `python -m etl.entrypoints.worker`, batched streaming pull."""

WORKER_COMMAND = ("python", "-m", "etl.entrypoints.worker")

DEAD_LETTER_READER = Consumer(
    "deadletter-reader",
    "dead_letter",
    policies=False,
    about="`etl dead-letters` and the inspector list it without consuming",
)
"""Keeps every dead letter (a topic without a subscription drops what is published to it);
`etl dead-letters` and the inspector list it without consuming."""

FAMILIES: dict[str, int] = {"event": 1, "realTimeStatus": 1}
"""The table's column families → versions kept (GC rule). One version: every write the pipeline
makes is a full rewrite."""

SHAPES = ("current", "fanout", "worker")


def shape_functions(shape: str) -> tuple[Function, ...]:
    """The functions a shape runs, in registry order (none for `worker`)."""
    if shape not in SHAPES:
        raise ValueError(f"no pipeline shape {shape!r}; one of {', '.join(SHAPES)}")
    return tuple(f for f in FUNCTIONS if f.shape == shape)


def function(name: str) -> Function:
    for entry in FUNCTIONS:
        if entry.name == name:
            return entry
    raise KeyError(name)


def _delivery(settings: Settings, delivery: Delivery, policies: bool = True) -> dict[str, Any]:
    if not policies:
        return {"ack_deadline_seconds": delivery.ack_deadline_seconds}
    return {
        "ack_deadline_seconds": delivery.ack_deadline_seconds,
        "minimum_backoff_seconds": delivery.minimum_backoff_seconds,
        "maximum_backoff_seconds": delivery.maximum_backoff_seconds,
        "dead_letter_topic": settings.dead_letter_topic,
        "max_delivery_attempts": delivery.max_delivery_attempts,
    }


def _names(settings: Settings, topics: Sequence[Topic]) -> list[str]:
    return [topic_name(settings, t) for t in topics]


def _function(settings: Settings, f: Function) -> dict[str, Any]:
    return {
        "name": f.name,
        "shape": f.shape,
        "handler": f.handler or None,
        "summary": f.summary or None,
        "trigger_topic": topic_name(settings, f.trigger),
        "subscription": settings.subscription(f.consumer),
        **_delivery(settings, f.delivery),
        "publishes_to": _names(settings, f.publishes),
        "concurrency": f.concurrency,
    }


def _consumer(settings: Settings, c: Consumer) -> dict[str, Any]:
    return {
        "subscription": settings.subscription(c.consumer),
        "topic": topic_name(settings, c.trigger),
        **_delivery(settings, c.delivery, c.policies),
        "publishes_to": _names(settings, c.publishes),
    }


def manifest(stage: str, project: str) -> dict[str, Any]:
    """The pipeline of one stage as plain JSON-able data (the contract the Terraform reads)."""
    settings = Settings(project=project, stage=stage)
    return {
        "project": project,
        "stage": stage,
        "topics": {t: topic_name(settings, t) for t in TOPICS},
        "bigtable": {
            "instance": settings.instance,
            "table": settings.table,
            "families": {name: {"max_versions": n} for name, n in FAMILIES.items()},
        },
        "functions": [_function(settings, f) for f in FUNCTIONS],
        "http_functions": [
            {
                "name": h.name,
                "stages": list(h.stages),
                "publishes_to": _names(settings, h.publishes),
            }
            for h in HTTP_FUNCTIONS
        ],
        "worker": {**_consumer(settings, WORKER), "command": list(WORKER_COMMAND)},
        "dead_letter_reader": _consumer(settings, DEAD_LETTER_READER),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m etl.pipeline", description="Print the pipeline of a stage as JSON."
    )
    parser.add_argument("--stage", choices=STAGES, default="dev")
    parser.add_argument("--project", default=Settings().project)
    args = parser.parse_args(argv)
    json.dump(manifest(args.stage, args.project), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
