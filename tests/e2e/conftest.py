"""e2e tests run against real emulators; the fixtures come from the `etl_harness.emulators.plugin` plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from etl.adapters.bigtable import EventTable
from etl.config import Settings, from_env
from etl.adapters.pubsub import PubSub


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture
def settings(emulator_hosts: object, unique_name: Callable[[str], str]) -> Settings:
    """A project of its own per test: topics, subscriptions and the table are all isolated."""
    del emulator_hosts
    return replace(from_env(), project=unique_name("p"), stage="test")


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
