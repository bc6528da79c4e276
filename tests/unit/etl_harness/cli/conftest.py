"""`etl`'s callback sets process-wide logging (structlog's level, werkzeug's logger, a warnings
filter): each test here gets them back as they were, so other tests see the defaults."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    werkzeug = logging.getLogger("werkzeug").level
    with warnings.catch_warnings():
        yield
    structlog.configure(**saved)
    logging.getLogger("werkzeug").setLevel(werkzeug)
