"""Publishing simulated events: the core simulator, placed in time and paced by `speedFactor`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from etl_core import Event, Simulation, pacing, simulate
from etl_core.simulator import DEFAULT_SERVICES

MAX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Request:
    """A validated simulation request (HTTP body or CLI flags)."""

    limit: int
    speed_factor: float
    seed: int = 0
    services: tuple[str, ...] = DEFAULT_SERVICES


def simulate_before(now: datetime, request: Request) -> Simulation:
    """Simulated days starting at a midnight, shifted back whole days so no event is after `now`."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sim = simulate(
        seed=request.seed, services=request.services, start=midnight, limit=request.limit
    )
    if not sim.events or sim.events[-1].event_time <= now:
        return sim
    days = (sim.events[-1].event_time - midnight).days + 1
    return simulate(
        seed=request.seed,
        services=request.services,
        start=midnight - timedelta(days=days),
        limit=request.limit,
    )


def publish_paced(
    events: Sequence[Event],
    speed_factor: float,
    publish: Callable[[Sequence[Event]], object],
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Publish each event at its wall-clock offset; events already due go out as one batch."""
    offsets = pacing(events, speed_factor)
    begin = monotonic()
    i = 0
    while i < len(events):
        wait = offsets[i] - (monotonic() - begin)
        if wait > 0:
            sleep(wait)
        elapsed = monotonic() - begin
        j = i
        while j < len(events) and offsets[j] <= elapsed:
            j += 1
        j = max(j, i + 1)
        publish(events[i:j])
        i = j
    return len(events)
