"""Google Cloud as the test target (`--etl-emulators=cloud`): opt-in, for the contract and parity
tests only, every resource under one run prefix and deleted afterwards.

Refused without an explicit project and instance (`ETL_CLOUD_PROJECT`, `ETL_CLOUD_INSTANCE`: an
existing Bigtable instance; Pub/Sub needs nothing beforehand); credentials are Application
Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS` or `gcloud auth application-default
login`). Never `GOOGLE_CLOUD_PROJECT` alone: a project picked up by accident is how a test run
lands in production.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.cloud import bigtable

from etl.adapters.bigtable import bigtable_client
from etl.adapters.pubsub import publisher_client, subscriber_client
from etl.config import Settings
from etl_core import EtlError
from etl_harness.emulators.pair import Hosts
from etl_harness.local import Local

PROJECT_ENV = "ETL_CLOUD_PROJECT"
INSTANCE_ENV = "ETL_CLOUD_INSTANCE"
PREFIX_ENV = "ETL_CLOUD_PREFIX"
HOST_VARIABLES = ("PUBSUB_EMULATOR_HOST", "BIGTABLE_EMULATOR_HOST", "ETL_PUBSUB_ADMIN_HOST")
"""Unset for a cloud run: with one of them set, that client would talk to an emulator."""


class CloudRefused(EtlError, ValueError):
    """The cloud target is not fully and explicitly configured."""


@dataclass(frozen=True, slots=True)
class CloudTarget:
    """Where a cloud run creates its resources, and the prefix every one of them carries."""

    project: str
    instance: str
    prefix: str = field(default_factory=lambda: f"etlt-{uuid.uuid4().hex[:8]}")

    def owns(self, resource_id: str) -> bool:
        """Whether the id carries the run prefix (tables may spell its dashes `_`)."""
        return resource_id.replace("_", "-").startswith(f"{self.prefix}-")

    def plan(self, tests: list[str]) -> list[str]:
        """What a run of `tests` would create and delete (the dry run prints it)."""
        scope = f"projects/{self.project}"
        return [
            f"target: project {self.project}, Bigtable instance {self.instance}",
            f"prefix: every topic, subscription, snapshot and table id starts with {self.prefix}-",
            f"would create, in {scope} and {scope}/instances/{self.instance}, the resources "
            f"these {len(tests)} tests make (each under the prefix):",
            *(f"  {test}" for test in tests),
            "would delete afterwards:",
            f"  snapshots     {scope}/snapshots/{self.prefix}-*",
            f"  subscriptions {scope}/subscriptions/{self.prefix}-*",
            f"  topics        {scope}/topics/{self.prefix}-*",
            f"  tables        {scope}/instances/{self.instance}/tables/{self.prefix}-* "
            f"(or {self.prefix.replace('-', '_')}_*)",
            "nothing else is touched.",
        ]


def target_from_env(environ: Mapping[str, str]) -> CloudTarget:
    """The target named by `ETL_CLOUD_PROJECT` and `ETL_CLOUD_INSTANCE` (`ETL_CLOUD_PREFIX`
    optional); `CloudRefused` saying what is missing."""
    project = environ.get(PROJECT_ENV, "").strip()
    instance = environ.get(INSTANCE_ENV, "").strip()
    missing = [
        name for name, value in ((PROJECT_ENV, project), (INSTANCE_ENV, instance)) if not value
    ]
    if missing:
        raise CloudRefused(
            f"--etl-emulators=cloud needs an explicit target: set {' and '.join(missing)} "
            "(a project for throwaway resources, never production; an existing Bigtable "
            "instance); GOOGLE_CLOUD_PROJECT alone is not enough"
        )
    if prefix := environ.get(PREFIX_ENV, "").strip():
        return CloudTarget(project, instance, prefix)
    return CloudTarget(project, instance)


def cleanup(
    target: CloudTarget, publisher: Any, subscriber: Any, bigtable_client: Any
) -> list[str]:
    """Delete every snapshot, subscription, topic and table of the target under its prefix
    (snapshots first: they name subscriptions' topics); returns what was deleted."""
    from google.api_core import exceptions as gexc

    project = f"projects/{target.project}"
    deleted: list[str] = []

    def last(name: str) -> str:
        return name.rsplit("/", 1)[-1]

    for snapshot in subscriber.list_snapshots(request={"project": project}):
        if target.owns(last(snapshot.name)):
            with contextlib.suppress(gexc.NotFound):
                subscriber.delete_snapshot(request={"snapshot": snapshot.name})
            deleted.append(snapshot.name)
    for sub in subscriber.list_subscriptions(request={"project": project}):
        if target.owns(last(sub.name)):
            with contextlib.suppress(gexc.NotFound):
                subscriber.delete_subscription(subscription=sub.name)
            deleted.append(sub.name)
    for topic in publisher.list_topics(request={"project": project}):
        if target.owns(last(topic.name)):
            with contextlib.suppress(gexc.NotFound):
                publisher.delete_topic(topic=topic.name)
            deleted.append(topic.name)
    for table in bigtable_client.instance(target.instance).list_tables():
        if target.owns(table.table_id):
            with contextlib.suppress(gexc.NotFound):
                table.delete()
            deleted.append(table.name)
    return deleted


class CloudSession:
    """What the pytest plugin's `emulators` fixture gives in a cloud run: the same clients,
    settings and hosts as `Emulators`, pointed at Google Cloud (no hosts, no admin API)."""

    seeded = True
    """Nothing is provisioned from etl.toml in the cloud: tests create what they use."""

    def __init__(self, local: Local, target: CloudTarget) -> None:
        self.local = local
        self.target = target
        self.hosts = Hosts("", "", "cloud")

    @property
    def settings(self) -> Settings:
        return replace(
            self.local.settings,
            project=self.target.project,
            instance=self.target.instance,
            pubsub_emulator_host=None,
            bigtable_emulator_host=None,
            pubsub_admin_host=None,
        )

    def env(self) -> dict[str, str]:
        return {}

    def publisher(self) -> pubsub_v1.PublisherClient:
        return publisher_client()

    def subscriber(self) -> pubsub_v1.SubscriberClient:
        return subscriber_client()

    def bigtable(self, project: str | None = None) -> bigtable.Client:
        return bigtable_client(replace(self.settings, project=project or self.target.project))

    def cleanup(self) -> list[str]:
        """`cleanup` of the target with fresh clients (the process's environment holds no
        emulator host)."""
        publisher, subscriber = self.publisher(), self.subscriber()
        client = self.bigtable()
        try:
            return cleanup(self.target, publisher, subscriber, client)
        finally:
            publisher.stop()
            subscriber.close()
            client.close()  # type: ignore[no-untyped-call]
