"""The original `simulateAccesoData` as a pure, seeded generator of realistic Acceso events.

Shape of a simulated day (UTC is the local time of the simulated sites): people arrive in the
morning (about 7-10h), some go out for lunch and come back, and they leave in the evening (about
16-19h); nights are nearly quiet. Events form a Poisson process whose rate follows the hour of
the day. An event that would take a service's occupancy outside `0..capacity` is not emitted, so
the events contain no anomalies and `ground_truth` is what a correct pipeline must report.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from etl_core.errors import EtlError, InvalidEvent
from etl_core.events import Event, validate_service
from etl_core.timestamps import EPOCH

DEFAULT_SERVICES = ("acceso-norte", "acceso-sur", "acceso-este")

HOUR_MS = 3_600_000
TRAFFIC = (
    *(0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.06, 0.20, 0.28, 0.16, 0.10, 0.08),
    *(0.16, 0.16, 0.08, 0.08, 0.25, 0.35, 0.25, 0.12, 0.05, 0.03, 0.02, 0.01),
)
"""Mean events per hour of the day, as a fraction of a service's capacity (bigger sites, more
traffic): about 2.5 x capacity events a day, about 0.6 x capacity inside by mid-morning."""
ENTRY_SHARE = (
    *(0.30, 0.30, 0.30, 0.30, 0.30, 0.70, 0.85, 0.92, 0.92, 0.92, 0.55, 0.50),
    *(0.30, 0.70, 0.45, 0.40, 0.15, 0.08, 0.08, 0.10, 0.15, 0.20, 0.20, 0.25),
)
"""Probability that an event in that hour of the day is an entry (lunch out at 12, back at 13)."""


class InvalidSimulation(EtlError, ValueError):
    """Simulation arguments that cannot produce a simulation."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """Events in time order and the final occupancy of every requested service (0 included)."""

    events: tuple[Event, ...]
    ground_truth: dict[str, int]


def simulate(
    *,
    seed: int,
    services: Sequence[str] = DEFAULT_SERVICES,
    start: datetime,
    limit: int,
    capacity: int = 50,
) -> Simulation:
    """`limit` events from `start` on, as many days as needed; the same arguments, same events.

    Event times are strictly increasing milliseconds, so their order is also the fold order.
    """
    names = _check(services, start, limit, capacity)
    rng = random.Random(seed)
    inside = dict.fromkeys(names, 0)
    events: list[Event] = []
    t = float(-((EPOCH - start) // timedelta(milliseconds=1)))  # ceil to a millisecond
    last = -1
    while len(events) < limit:
        hour = int(t // HOUR_MS)
        rate = TRAFFIC[hour % 24] * capacity * len(names) / HOUR_MS
        t_next = t + rng.expovariate(rate)
        if t_next >= (hour + 1) * HOUR_MS:
            t = float((hour + 1) * HOUR_MS)  # memoryless: redraw at the next hour's rate
            continue
        t = t_next
        service = names[rng.randrange(len(names))]
        delta = 1 if rng.random() < ENTRY_SHARE[hour % 24] else -1
        if not 0 <= inside[service] + delta <= capacity:
            continue
        inside[service] += delta
        last = max(int(t), last + 1)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        events.append(Event(service, EPOCH + timedelta(milliseconds=last), delta, event_id))
    return Simulation(tuple(events), inside)


def _check(services: Sequence[str], start: datetime, limit: int, capacity: int) -> list[str]:
    if type(limit) is not int or limit < 0:
        raise InvalidSimulation(f"limit must be an integer >= 0, not {limit!r}")
    if type(capacity) is not int or capacity < 1:
        raise InvalidSimulation(f"capacity must be an integer >= 1, not {capacity!r}")
    if not isinstance(start, datetime) or start.utcoffset() is None:
        raise InvalidSimulation(f"start must be an aware datetime, not {start!r}")
    names = [] if isinstance(services, str) else list(services)
    if not names or len(set(names)) != len(names):
        raise InvalidSimulation(f"services must be distinct names, at least one: {services!r}")
    try:
        return [validate_service(name) for name in names]
    except InvalidEvent as err:
        raise InvalidSimulation(err.message) from None


def pacing(events: Sequence[Event], speed_factor: float) -> list[float]:
    """Wall-clock offset (seconds) of each event from the first, with time `speed_factor`x faster.

    `speed_factor=60` plays an hour of events in a minute. Offsets never decrease, even if the
    events are not in time order (an early event is simply due at once).
    """
    if not (isinstance(speed_factor, int | float) and 0 < speed_factor < math.inf):
        raise InvalidSimulation(f"speed_factor must be a positive number, not {speed_factor!r}")
    offsets: list[float] = []
    latest = 0.0
    for event in events:
        latest = max(latest, (event.event_time - events[0].event_time).total_seconds())
        offsets.append(latest / speed_factor)
    return offsets
