"""Create etl.toml's resources in the emulators, and bring them back to that state.

`ensure` is idempotent and used wherever the pipeline starts locally (`etl serve`, `etl emulators
exec`, tests). `reset_all` is the instant clean slate: no emulator restart, only deletes and
creates, refused unless both emulators are configured and the stage is not prod.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.api_core import exceptions as gexc
from google.cloud import bigtable
from google.cloud.bigtable import column_family
from google.cloud.bigtable_admin_v2 import types as admin_types
from google.pubsub_v1.types import Encoding, Schema

from etl.adapters.bigtable import ResetRefused, bigtable_client
from etl.adapters.pubsub import publisher_client, subscriber_client
from etl.adapters.pubsub import subscription_request as pubsub_request
from etl.config import Settings
from etl_harness import etl_toml
from etl_harness.local import Local


@dataclass(frozen=True, slots=True)
class Clients:
    """The official admin clients, closed together."""

    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient
    bigtable: bigtable.Client
    schemas: pubsub_v1.SchemaServiceClient

    def close(self) -> None:
        self.publisher.stop()
        self.subscriber.close()
        self.bigtable.close()
        self.schemas.transport.close()


@contextlib.contextmanager
def clients(settings: Settings) -> Iterator[Clients]:
    opened = Clients(
        publisher_client(), subscriber_client(), bigtable_client(settings),
        pubsub_v1.SchemaServiceClient(),
    )  # fmt: skip
    try:
        yield opened
    finally:
        opened.close()


def load(local: Local | None = None) -> etl_toml.EtlToml:
    """The etl.toml `local` names (`ETL_SEED_FILE`), else the one found from the working
    directory upwards, else the packaged default."""
    return etl_toml.load(etl_toml.find(local.etl_toml if local else None))


def ensure(settings: Settings, parsed: etl_toml.EtlToml | None = None) -> etl_toml.Resources:
    """Create whatever etl.toml (`load()` if not given) lists for the stage in the project and
    is missing."""
    parsed = parsed or load()
    resources = parsed.resources(settings.stage, settings.project, settings.instance)
    with clients(settings) as c:
        apply(c, resources)
    return resources


def ensure_stages(settings: Settings, parsed: etl_toml.EtlToml | None = None) -> list[str]:
    """`ensure` for every stage of etl.toml and the configured one; returns the stages."""
    with clients(settings) as c:
        return apply_stages(c, parsed or load(), settings)


def apply_stages(c: Clients, parsed: etl_toml.EtlToml, settings: Settings) -> list[str]:
    """`apply` for every stage of etl.toml and `settings.stage`; returns the stages."""
    stages = list(dict.fromkeys((*parsed.stages, settings.stage)))
    for stage in stages:
        apply(c, parsed.resources(stage, settings.project, settings.instance))
    return stages


def ensure_local(local: Local) -> None:
    """`ensure` when both emulators are configured; production resources are deployed."""
    if on_emulators(local.settings):
        ensure(local.settings, load(local))


def subscription_request(
    project: str, spec: etl_toml.Subscription, push_endpoint: str | None = None
) -> dict[str, Any]:
    """The CreateSubscription request of an etl.toml subscription (`push_endpoint` overrides
    its own)."""
    return pubsub_request(
        project,
        spec.name,
        spec.topic,
        ack_deadline_seconds=spec.ack_deadline_seconds,
        ordering=spec.ordering,
        exactly_once=spec.exactly_once,
        push_endpoint=(push_endpoint or spec.push_endpoint or ""),
        dead_letter=(spec.dead_letter.topic, spec.dead_letter.max_delivery_attempts)
        if spec.dead_letter
        else None,
        backoff=(spec.retry.minimum_backoff_seconds, spec.retry.maximum_backoff_seconds)
        if spec.retry
        else None,
        oidc_token=(spec.oidc_token.service_account_email, spec.oidc_token.audience or "")
        if spec.oidc_token
        else None,
    )


def topic_request(resources: etl_toml.Resources, topic: str) -> dict[str, Any]:
    """The CreateTopic request of an etl.toml topic, with its schema settings if it has them."""
    request: dict[str, Any] = {"name": f"projects/{resources.project}/topics/{topic}"}
    if settings := resources.topic_schemas.get(topic):
        request["schema_settings"] = {
            "schema": f"projects/{resources.project}/schemas/{settings.schema}",
            "encoding": Encoding.BINARY if settings.encoding == "binary" else Encoding.JSON,
        }
    return request


def apply(c: Clients, resources: etl_toml.Resources) -> None:
    """Schemas, then topics (which name schemas), then subscriptions (which name topics), then
    tables; existing ones are kept."""
    project = f"projects/{resources.project}"
    for schema in resources.schemas:
        kind = Schema.Type.AVRO if schema.type == "avro" else Schema.Type.PROTOCOL_BUFFER
        with contextlib.suppress(gexc.AlreadyExists):
            c.schemas.create_schema(
                request={"parent": project, "schema_id": schema.name,
                         "schema": {"type_": kind, "definition": schema.definition}}
            )  # fmt: skip
    for topic in resources.topics:
        with contextlib.suppress(gexc.AlreadyExists):
            c.publisher.create_topic(request=topic_request(resources, topic))
    for sub in resources.subscriptions:
        with contextlib.suppress(gexc.AlreadyExists):
            c.subscriber.create_subscription(request=subscription_request(resources.project, sub))
    instance = c.bigtable.instance(resources.instance)
    for table in resources.tables:
        with contextlib.suppress(gexc.AlreadyExists):
            c.bigtable.table_admin_client.create_table(
                parent=instance.name, table_id=table.name, table=table_request(table)
            )


def table_request(table: etl_toml.Table) -> admin_types.Table:
    """The admin API's table: each family's GC rule and, for aggregate families, its int64
    aggregate type (the legacy `Table.create` cannot declare one)."""
    families = {}
    for name, rule in table.families.items():
        family = admin_types.ColumnFamily()
        if (gc := gc_rule(rule)) is not None:
            family.gc_rule = gc.to_pb()
        if aggregate := table.aggregates.get(name):
            family.value_type = aggregate_type(aggregate)
        families[name] = family
    return admin_types.Table(column_families=families)


def aggregate_type(aggregate: str) -> admin_types.Type:
    """The int64 aggregate value type `aggregate` ("sum", "min", "max" or "hll") names."""
    agg = admin_types.Type.Aggregate
    aggregator: dict[str, dict[str, Any]] = {
        "sum": {"sum": agg.Sum()},
        "min": {"min_": agg.Min()},
        "max": {"max_": agg.Max()},
        "hll": {"hllpp_unique_count": agg.HyperLogLogPlusPlusUniqueCount()},
    }
    int64 = admin_types.Type(int64_type=admin_types.Type.Int64())
    return admin_types.Type(aggregate_type=agg(input_type=int64, **aggregator[aggregate]))


def gc_rule(rule: etl_toml.GcRule) -> Any:
    """The client's GC rule: one condition, or the union of both (None: neither)."""
    parts: list[Any] = []
    if rule.max_versions is not None:
        parts.append(column_family.MaxVersionsGCRule(rule.max_versions))
    if rule.max_age_seconds is not None:
        parts.append(column_family.MaxAgeGCRule(timedelta(seconds=rule.max_age_seconds)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else column_family.GCRuleUnion(rules=parts)


@dataclass(frozen=True, slots=True)
class ResetReport:
    """What `reset_all` deleted and recreated, and how long it took."""

    subscriptions: int
    topics: int
    tables: int
    seconds: float


def reset_all(settings: Settings, parsed: etl_toml.EtlToml | None = None) -> ResetReport:
    """Delete every subscription, topic and table of the project, then apply etl.toml again.

    Covers etl.toml's stages and the configured one. Backlogs go with their subscriptions, rows
    with their tables; the emulators keep running.
    """
    guard(settings)
    parsed = parsed or load()
    started = time.perf_counter()
    project = f"projects/{settings.project}"
    with clients(settings) as c:
        subs = [s.name for s in c.subscriber.list_subscriptions(request={"project": project})]
        for name in subs:
            with contextlib.suppress(gexc.NotFound):
                c.subscriber.delete_subscription(subscription=name)
        topics = [t.name for t in c.publisher.list_topics(request={"project": project})]
        for name in topics:
            with contextlib.suppress(gexc.NotFound):
                c.publisher.delete_topic(topic=name)
        instance = c.bigtable.instance(settings.instance)
        tables = instance.list_tables()
        for table in tables:
            with contextlib.suppress(gexc.NotFound):
                table.delete()
        apply_stages(c, parsed, settings)
    return ResetReport(len(subs), len(topics), len(tables), time.perf_counter() - started)


def guard(settings: Settings) -> None:
    """Only local emulators, never prod: a reset deletes everything of the project."""
    if settings.stage == "prod":
        raise ResetRefused("reset deletes every resource: refused on stage prod")
    if not on_emulators(settings):
        raise ResetRefused(f"reset --all runs against the emulators only: {NO_HOSTS}")


NO_HOSTS = "set PUBSUB_EMULATOR_HOST and BIGTABLE_EMULATOR_HOST (`etl emulators up` prints them)"


def on_emulators(settings: Settings) -> bool:
    """Both clients talk to emulators: with one host unset, that client would reach Google."""
    return bool(settings.pubsub_emulator_host and settings.bigtable_emulator_host)
