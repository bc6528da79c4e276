"""e2e tests run against real emulators; the fixtures come from the pytest plugin
`etl_harness.emulators.plugin`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import PubSub
from etl.config import Settings, from_env
from etl_harness import provision
from tests.e2e.faults import Rig
from tests.e2e.sandbox import PubSubSandbox, PushRecorder, serve_push_endpoint


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test e2e. (The plugin keeps the tests that share the seeded project on one
    xdist worker; every other test has a project of its own, so `nox -s e2e` spreads them over
    workers: each with its own emulator pair natively, one shared pair when the hosts come from
    the environment.)"""
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture
def settings(etl_emulator_hosts: object, etl_unique_name: Callable[[str], str]) -> Settings:
    """A project of its own per test: topics, subscriptions and the table are all isolated."""
    del etl_emulator_hosts
    return replace(from_env(os.environ), project=etl_unique_name("p"), stage="test")


@pytest.fixture
def table(settings: Settings) -> Iterator[EventTable]:
    table = EventTable(settings)
    yield table
    table.close()


@pytest.fixture
def bus(settings: Settings) -> Iterator[PubSub]:
    bus = PubSub(settings)
    yield bus
    bus.close()


@pytest.fixture
def rig(
    etl_emulator_hosts: object, etl_unique_name: Callable[[str], str], tmp_path: Path
) -> Iterator[Rig]:
    """One isolated project, provisioned from etl.toml, with its table, bus and a log folder."""
    del etl_emulator_hosts
    settings = replace(from_env(os.environ), project=etl_unique_name("p"), stage="test")
    provision.ensure(settings)
    table, bus = EventTable(settings), PubSub(settings)
    try:
        yield Rig(settings, table, bus, tmp_path)
    finally:
        bus.close()
        table.close()


@pytest.fixture
def pubsub(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
) -> Iterator[PubSubSandbox]:
    """The session's Pub/Sub clients, making topics and subscriptions of this test's own (the
    subscriptions deleted when it ends)."""
    sandbox = PubSubSandbox(etl_publisher, etl_subscriber, etl_gcp_project, etl_unique_name)
    yield sandbox
    sandbox.close()


@pytest.fixture
def topic(pubsub: PubSubSandbox) -> str:
    """A topic of this test's own, by full path (the contract and parity tests'; a module with
    its own `topic` fixture overrides it)."""
    return pubsub.topic()


@pytest.fixture
def push_endpoint(etl_emulators: Any) -> Iterator[tuple[str, type[PushRecorder]]]:
    """A recording push endpoint where the emulators reach it (`functions_host`: 0.0.0.0 when
    they run in containers)."""
    yield from serve_push_endpoint(etl_emulators.settings.functions_host)
