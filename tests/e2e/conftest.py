"""e2e tests run against real emulators; the fixtures come from the `etl.testing` plugin."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)
