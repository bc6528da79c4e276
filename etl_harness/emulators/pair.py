"""The emulator pair the harness runs, whoever provides it (our native binaries, our images,
Google's emulators, or hosts given in the environment): each emulator's `Kind`, a started emulator
process (`Running`, as the state file records it), where the pair answers (`Hosts`), and the
`EmulatorError` when one is missing or will not answer. The launchers (`native`, `official`,
`containers`) and `hosts.Emulators` share these; none of them owns them.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from etl_core import EtlError

ADMIN_ENV = "ETL_PUBSUB_ADMIN_HOST"
"""Our Pub/Sub emulator's admin API (backlogs, recent messages, faults), for clients and tests."""


class EmulatorError(EtlError, RuntimeError):
    """An emulator is missing, would not start, or does not answer."""


@dataclass(frozen=True, slots=True)
class Kind:
    """One emulator: its binary, default port and the env var clients read."""

    name: str
    binary: str
    default_port: int
    env_var: str
    stop_signal: signal.Signals = signal.SIGTERM


PUBSUB = Kind("pubsub", "pubsub-emulator", 8085, "PUBSUB_EMULATOR_HOST")
BIGTABLE = Kind("bigtable", "bigtable-emulator", 8086, "BIGTABLE_EMULATOR_HOST")
KINDS = (PUBSUB, BIGTABLE)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}


@dataclass(frozen=True, slots=True)
class Running:
    """An emulator process the harness started (natively, or Google's), as the state file records it."""

    name: str
    pid: int
    host: str
    port: int
    log: str
    admin_port: int | None = None
    exe: str | None = None
    """The binary it runs and when it started (psutil's `create_time`): together they tell our
    emulator from whatever process has its pid later (after a reboot, say)."""
    started: float | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def admin_address(self) -> str | None:
        return None if self.admin_port is None else f"{self.host}:{self.admin_port}"


@dataclass(frozen=True, slots=True)
class Hosts:
    """Where the two emulators answer, and how they were provided."""

    pubsub: str
    bigtable: str
    source: str
    admin: str | None = None

    @classmethod
    def of(cls, running: list[Running] | dict[str, Running], source: str) -> Hosts:
        by_name = running if isinstance(running, dict) else {r.name: r for r in running}
        pubsub = by_name[PUBSUB.name]
        return cls(pubsub.address, by_name[BIGTABLE.name].address, source, pubsub.admin_address)

    def env(self) -> dict[str, str]:
        """The variables clients and child processes read."""
        env = {PUBSUB.env_var: self.pubsub, BIGTABLE.env_var: self.bigtable}
        if self.admin:
            env[ADMIN_ENV] = self.admin
        return env
