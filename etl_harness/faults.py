"""Fault injection settings of one subscription, as our Pub/Sub emulator takes them.

The emulator (emulators/internal/faults) duplicates, delays, reorders and redelivers early what
it delivers, fails push requests, and fails acks transiently on exactly-once subscriptions, per
subscription: declared in etl.toml
(`faults = { duplicate = 0.1, ... }`) or set through its admin API. `Faults.parse` validates a
mapping with the Go code's rules and words (`faults.duplicate must be 0-1, got 1.5`), so the
etl.toml reader and `etl emulators faults` refuse what the emulator would refuse, before it does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from etl_core import EtlError

MAX_DELAY_MS = 300_000
"""The emulator's cap on `delay_ms`: a held message keeps its lease for delay + ack deadline."""
FRACTIONS = (
    "duplicate",
    "delay_fraction",
    "push_error",
    "early_redelivery",
    "transient_ack_failure",
)
"""In the order the emulator checks them (the first bad one is the one reported)."""
KEYS = (*FRACTIONS, "delay_ms", "shuffle", "seed")
FIRED = (
    "duplicate",
    "delay",
    "shuffle",
    "push_error",
    "early_redelivery",
    "transient_ack_failure",
)
"""The emulator's counts, per fault (`fired` in its admin API)."""


class InvalidFaults(EtlError, ValueError):
    """A faults setting the emulator would refuse; `key` is the faulty one (`delay_ms`)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


@dataclass(frozen=True, slots=True)
class Faults:
    """A subscription's faults; fractions 0-1 (0: off). `seed` None: the emulator draws one."""

    duplicate: float = 0.0
    delay_ms: tuple[int, int] | None = None
    delay_fraction: float = 0.0
    shuffle: bool = False
    push_error: float = 0.0
    early_redelivery: float = 0.0
    transient_ack_failure: float = 0.0
    """Ack ids whose first ack or modack fails with TRANSIENT_FAILURE_OTHER (exactly-once only)."""
    seed: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Faults:
        """Validate `raw` (etl.toml's inline table, or a JSON body) as the emulator does."""
        for key in raw:
            if key not in KEYS:
                raise InvalidFaults(key, f"faults: unknown key {key!r} (known: {', '.join(KEYS)})")
        fractions = {key: _fraction(raw, key) for key in FRACTIONS}
        delay_ms = raw.get("delay_ms")
        if delay_ms is None:
            if fractions["delay_fraction"] > 0:
                problem = "faults.delay_fraction needs delay_ms = [low, high]"
                raise InvalidFaults("delay_fraction", problem)
        else:
            delay_ms = _delay(delay_ms)
            if "delay_fraction" not in raw:
                fractions["delay_fraction"] = 1.0
        shuffle = raw.get("shuffle", False)
        if not isinstance(shuffle, bool):
            raise InvalidFaults("shuffle", f"faults.shuffle must be true or false, got {shuffle!r}")
        seed = raw.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidFaults("seed", f"faults.seed must be an integer, got {seed!r}")
        return cls(delay_ms=delay_ms, shuffle=shuffle, seed=seed, **fractions)

    def as_json(self) -> dict[str, Any]:
        """The admin API's body: the faults that are on, and the seed if one was chosen."""
        body: dict[str, Any] = {k: getattr(self, k) for k in FRACTIONS if getattr(self, k) > 0}
        if self.delay_ms is not None:
            body["delay_ms"] = list(self.delay_ms)
            body["delay_fraction"] = self.delay_fraction
        if self.shuffle:
            body["shuffle"] = True
        if self.seed is not None:
            body["seed"] = self.seed
        return body


def _fraction(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFaults(key, f"faults.{key} must be a number 0-1, got {value!r}")
    if not 0 <= value <= 1:  # NaN fails too, as in Go
        raise InvalidFaults(key, f"faults.{key} must be 0-1, got {go_number(value)}")
    return float(value)


def _delay(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise InvalidFaults("delay_ms", f"faults.delay_ms must be [low, high] in ms, got {value!r}")
    if len(value) != 2:
        problem = f"faults.delay_ms must be [low, high] in ms, got {len(value)} numbers"
        raise InvalidFaults("delay_ms", problem)
    low, high = value
    if low < 0 or high < low or high > MAX_DELAY_MS:
        problem = (
            f"faults.delay_ms must be [low, high] with 0 <= low <= high <= {MAX_DELAY_MS}, "
            f"got [{low}, {high}]"
        )
        raise InvalidFaults("delay_ms", problem)
    return low, high


def go_number(value: float) -> str:
    """`value` as Go's `%v` prints a float64 (`1.5`, `3`, `1e-05`, `1e+21`, `NaN`, `+Inf`):
    shortest digits, with an exponent below 1e-4 and from 1e21 (Python's `repr` from 1e16)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    if value != 0 and 1e16 <= abs(value) < 1e21:
        text = format(Decimal(text), "f")
    return text.removesuffix(".0")
