"""Configuration, read once from the environment at the edge and passed down as a value.

Every name a deployment uses is derived from `Settings` here, so the functions, the worker, the
CLI and the tests cannot disagree about which topic or table they talk to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from etl_core import EtlError

STAGES = ("dev", "test", "prod")
DEFAULT_PROJECT = "local-project"
DEFAULT_INSTANCE = "iotincoming"


class InvalidConfig(EtlError, ValueError):
    """An environment variable holds a value the pipeline cannot run with."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the pipeline reads and writes, for one project and stage."""

    project: str = DEFAULT_PROJECT
    stage: str = "dev"
    instance: str = DEFAULT_INSTANCE
    pubsub_emulator_host: str | None = None
    bigtable_emulator_host: str | None = None
    functions_host: str = "127.0.0.1"
    pubsub_admin_host: str | None = None
    """Our Pub/Sub emulator's HTTP admin API (backlogs, recent messages), for `etl inspect`."""
    ledger_horizon_hours: int = 2
    """Hours behind a service's newest that a summary keeps open: events later than that are
    placed by reading their hours' event rows back (see `etl_core.hour_ledger`)."""

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise InvalidConfig(f"ETL_STAGE must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if not 0 <= self.ledger_horizon_hours <= 48:
            raise InvalidConfig(
                f"ETL_LEDGER_HORIZON_HOURS must be 0-48, got {self.ledger_horizon_hours}"
            )

    @property
    def table(self) -> str:
        """The original design's table name: `incomingraw_{stage}`."""
        return f"incomingraw_{self.stage}"

    @property
    def events_topic(self) -> str:
        """Raw sensor events are published here (the simulator, `etl publish`, devices)."""
        return f"acceso-events-{self.stage}"

    @property
    def written_topic(self) -> str:
        """Fan-out: `write_event` republishes each stored event here for the calculations."""
        return f"acceso-written-{self.stage}"

    @property
    def dead_letter_topic(self) -> str:
        """Malformed messages (with a `reason` attribute) and messages that kept failing."""
        return f"acceso-deadletter-{self.stage}"

    def subscription(self, consumer: str) -> str:
        """Subscription name of one consumer: `{consumer}-{stage}`."""
        return f"{consumer}-{self.stage}"


def from_env(environ: Mapping[str, str]) -> Settings:
    """`Settings` from `GOOGLE_CLOUD_PROJECT`, `ETL_STAGE`, `BIGTABLE_INSTANCE`, emulator hosts and
    `ETL_FUNCTIONS_HOST` (the address `etl serve` binds its functions to) and
    `ETL_PUBSUB_ADMIN_HOST` (our Pub/Sub emulator's admin API) and `ETL_LEDGER_HORIZON_HOURS`.
    Entry points pass `os.environ`;
    nothing below them reads it."""
    env = environ
    return Settings(
        project=env.get("GOOGLE_CLOUD_PROJECT") or DEFAULT_PROJECT,
        stage=env.get("ETL_STAGE") or "dev",
        instance=env.get("BIGTABLE_INSTANCE") or DEFAULT_INSTANCE,
        pubsub_emulator_host=env.get("PUBSUB_EMULATOR_HOST") or None,
        bigtable_emulator_host=env.get("BIGTABLE_EMULATOR_HOST") or None,
        functions_host=env.get("ETL_FUNCTIONS_HOST") or "127.0.0.1",
        pubsub_admin_host=env.get("ETL_PUBSUB_ADMIN_HOST") or None,
        ledger_horizon_hours=_int(env, "ETL_LEDGER_HORIZON_HOURS", 2),
    )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidConfig(f"{name} must be a whole number, got {raw!r}") from None
