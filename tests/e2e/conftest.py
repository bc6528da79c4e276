"""e2e tests run against real emulators; the fixtures come from the `etl.testing` plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from etl.bigtable import EventTable
from etl.config import Settings, from_env
from etl.pubsub import PubSub


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test e2e; keep the tests that share the seeded project on one xdist worker.

    Every other test has a project of its own, so `nox -s e2e` spreads them over workers (each
    with its own emulator pair natively; one shared pair when the hosts come from the env).
    """
    for item in items:
        item.add_marker(pytest.mark.e2e)
        if "seeded_emulators" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("seeded-project"))


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
