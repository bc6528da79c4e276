"""What `main.py`'s Cloud Functions do: unwrap the trigger, call a handler, shape the response."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from etl import config, wiring
from etl.config import Settings
from etl.logs import log
from etl.service.handlers import Outcome, Runtime, dead_letter
from etl.service.simulation import MAX_LIMIT, Request, publish_paced, simulate_before
from etl_core import InvalidEvent, PubSubMessage, unwrap_cloud_event
from etl_core.events import validate_service

_lock = threading.Lock()
_wired: tuple[Settings, Runtime] | None = None


def configure(settings: Settings) -> Runtime:
    """Wire this process's functions to `settings` (`etl serve` does, before serving them)."""
    with _lock:
        return _wire(settings)


def _wire(settings: Settings) -> Runtime:
    """Build this process's Runtime; the caller holds `_lock`."""
    global _wired
    rt, _, _ = wiring.build(settings)
    _wired = (settings, rt)
    return rt


def wired() -> tuple[Settings, Runtime]:
    """The settings and pipeline of this function instance; on first use, from the environment
    Cloud Functions gives it (this is the entry point: the only place that reads it).

    Checked again under the lock: a gen2 instance serves concurrent requests, and two first ones
    must not each build a Runtime (and its clients and counter flusher)."""
    wired_now = _wired
    if wired_now is not None:
        return wired_now
    with _lock:
        if _wired is None:
            _wire(config.from_env(os.environ))
        assert _wired is not None
        return _wired


def runtime() -> Runtime:
    return wired()[1]


def on_cloud_event(
    cloud_event: Any, handler: Callable[[Runtime, PubSubMessage], Outcome], source: str
) -> Outcome:
    """Pub/Sub-triggered function body: bad envelopes and bad events are dead-lettered."""
    rt = runtime()
    try:
        message = unwrap_cloud_event(cloud_event.data, event_id=cloud_event["id"])
    except InvalidEvent as err:
        raw = json.dumps(cloud_event.data, default=str).encode()
        dead_letter(rt, PubSubMessage(raw, cloud_event["id"], {}, None, None), err, source)
        rt.flush_counters()
        return Outcome.DEAD_LETTERED
    try:
        return handler(rt, message)
    except Exception:
        rt.count("retries")  # Pub/Sub redelivers what we raise on
        raise
    finally:
        rt.flush_counters()


class BadRequest(ValueError):
    """The simulator's request body is invalid (HTTP 400)."""


ALLOWED = {"limit", "speedFactor", "project", "seed", "services"}


def parse_simulation(body: Any, project: str) -> Request:
    """Validate the simulator body `{"limit", "speedFactor", "project"?, "seed"?, "services"?}`."""
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object like {"limit": 10, "speedFactor": 120}')
    unknown = sorted(set(body) - ALLOWED)
    if unknown:
        raise BadRequest(
            f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(ALLOWED))}"
        )
    limit, speed = body.get("limit"), body.get("speedFactor")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}")
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not speed > 0:
        raise BadRequest("speedFactor must be a number > 0 (60 = one hour of data per minute)")
    if body.get("project", project) != project:
        raise BadRequest(
            f"this deployment publishes to project {project!r}, not {body['project']!r}"
        )
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise BadRequest("seed must be an integer")
    services = body.get("services")
    if services is None:
        return Request(limit=limit, speed_factor=float(speed), seed=seed)
    if (
        not isinstance(services, list)
        or not services
        or not all(isinstance(s, str) for s in services)
    ):
        raise BadRequest("services must be a non-empty list of names")
    try:
        for name in services:
            validate_service(name)
    except InvalidEvent as err:
        raise BadRequest(err.message) from err
    return Request(limit=limit, speed_factor=float(speed), seed=seed, services=tuple(services))


def simulate_http(request: Any) -> tuple[str, int, dict[str, str]]:
    """The original design's `simulateAccesoData`: publish simulated events, answer how many."""
    settings, rt = wired()
    if settings.stage == "prod":
        return _answer(request, 403, "the simulator is disabled on stage prod")
    if request.method != "POST":
        return _answer(request, 405, "use POST with a JSON body")
    try:
        sim_request = parse_simulation(request.get_json(silent=True), settings.project)
    except BadRequest as err:
        return _answer(request, 400, str(err))
    rt.bus.ensure_topic(
        settings.events_topic
    )  # the original design: "creating topic if non-existent"
    sim = simulate_before(datetime.now(UTC), sim_request)
    published = publish_paced(
        sim.events,
        sim_request.speed_factor,
        lambda batch: rt.bus.publish_events(settings.events_topic, batch),
    )
    log.info("simulated", published=published, topic=settings.events_topic)
    return _answer(
        request,
        200,
        f"{published} events published",
        published=published,
        groundTruth=sim.ground_truth,
    )


def _answer(request: Any, status: int, text: str, **extra: Any) -> tuple[str, int, dict[str, str]]:
    wants_json = "application/json" in (request.headers.get("Accept") or "") or (
        request.args.get("format") == "json"
    )
    if not wants_json:
        return text + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}
    key = "message" if status == 200 else "error"
    return json.dumps({key: text, **extra}), status, {"Content-Type": "application/json"}
