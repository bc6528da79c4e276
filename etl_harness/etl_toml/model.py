"""What an etl.toml describes, as plain data: topics, subscriptions and tables, per stage."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from etl_core import EtlError
from etl_harness.faults import Faults

# The package (`etl_harness.etl_toml`) re-exports these as its own.
__all__ = [
    "FILE_NAME",
    "PLACEHOLDERS",
    "DeadLetterPolicy",
    "EtlToml",
    "GcRule",
    "InvalidEtlToml",
    "OidcToken",
    "Resources",
    "RetryPolicy",
    "Schema",
    "Subscription",
    "Table",
    "TopicSchema",
]

FILE_NAME = "etl.toml"
PLACEHOLDERS = re.compile(r"\{([^{}]*)\}")


class InvalidEtlToml(EtlError, ValueError):
    """An etl.toml cannot be parsed or describes resources that cannot exist."""


@dataclass(frozen=True, slots=True)
class GcRule:
    """A column family's garbage collection: either condition deletes a cell."""

    max_versions: int | None = None
    max_age_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    families: Mapping[str, GcRule]
    aggregates: Mapping[str, str] = field(default_factory=dict)
    """Families of int64 aggregate type ("sum", "min", "max" or "hll", HyperLogLog++ unique count):
    `AddToCell` merges into them."""


@dataclass(frozen=True, slots=True)
class DeadLetterPolicy:
    topic: str
    max_delivery_attempts: int = 5


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    minimum_backoff_seconds: float = 10.0
    maximum_backoff_seconds: float = 600.0


@dataclass(frozen=True, slots=True)
class Schema:
    """A Pub/Sub schema: `type` "avro" or "protocol_buffer"; the definition as written."""

    name: str
    type: str
    definition: str


@dataclass(frozen=True, slots=True)
class TopicSchema:
    """A topic's schema settings: a declared schema and its messages' encoding."""

    schema: str
    encoding: str = "json"


@dataclass(frozen=True, slots=True)
class OidcToken:
    """A push subscription's authentication (production's `push_config.oidc_token`): the service
    account its tokens name and their audience (None: the push endpoint)."""

    service_account_email: str
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    topic: str
    push_endpoint: str | None = None
    function: str | None = None
    ack_deadline_seconds: int = 60
    ordering: bool = False
    exactly_once: bool = False
    """`enable_exactly_once_delivery`; pull subscriptions only."""
    dead_letter: DeadLetterPolicy | None = None
    retry: RetryPolicy | None = None
    faults: Faults | None = None
    """Injected by our Pub/Sub emulator only (Google's has no faults; `provision` ignores it)."""
    oidc_token: OidcToken | None = None


@dataclass(frozen=True, slots=True)
class Resources:
    """What one stage of one project consists of (placeholders replaced)."""

    project: str
    stage: str
    instance: str
    topics: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]
    tables: tuple[Table, ...]
    schemas: tuple[Schema, ...] = ()
    topic_schemas: Mapping[str, TopicSchema] = field(default_factory=dict)
    """By topic name, for the topics that have schema settings."""

    def subscription(self, name: str) -> Subscription:
        for sub in self.subscriptions:
            if sub.name == name:
                return sub
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class EtlToml:
    """The file as written: names still carry `{stage}` and `{project}`."""

    project: str
    stages: tuple[str, ...]
    instance: str
    topics: tuple[str, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    tables: tuple[Table, ...] = ()
    source: str = FILE_NAME
    schemas: tuple[Schema, ...] = ()
    topic_schemas: Mapping[str, TopicSchema] = field(default_factory=dict)

    def resources(
        self, stage: str, project: str | None = None, instance: str | None = None
    ) -> Resources:
        """The resources of `stage` in `project` and `instance` (default: the file's)."""
        values = {"stage": stage, "project": project or self.project}

        def fill(text: str) -> str:
            return text.format_map(values)

        def fill_sub(sub: Subscription) -> Subscription:
            dead = sub.dead_letter and replace(sub.dead_letter, topic=fill(sub.dead_letter.topic))
            oidc = sub.oidc_token and OidcToken(
                fill(sub.oidc_token.service_account_email),
                sub.oidc_token.audience and fill(sub.oidc_token.audience),
            )
            return replace(
                sub,
                name=fill(sub.name),
                topic=fill(sub.topic),
                push_endpoint=sub.push_endpoint and fill(sub.push_endpoint),
                dead_letter=dead,
                oidc_token=oidc,
            )

        return Resources(
            project=values["project"],
            stage=stage,
            instance=instance or self.instance,
            topics=tuple(fill(t) for t in self.topics),
            subscriptions=tuple(fill_sub(s) for s in self.subscriptions),
            tables=tuple(replace(t, name=fill(t.name)) for t in self.tables),
            schemas=tuple(replace(s, name=fill(s.name)) for s in self.schemas),
            topic_schemas={
                fill(topic): replace(settings, schema=fill(settings.schema))
                for topic, settings in self.topic_schemas.items()
            },
        )
