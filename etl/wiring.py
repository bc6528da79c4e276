"""The one place where real adapters are wired into the handlers."""

from __future__ import annotations

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import PubSub
from etl.config import Settings
from etl.service.handlers import Runtime


def build(settings: Settings) -> tuple[Runtime, EventTable, PubSub]:
    """A `Runtime` over the official clients, plus the adapters for setup and shutdown."""
    table = EventTable(settings)
    bus = PubSub(settings)
    return Runtime(table=table, bus=bus, written_topic=settings.written_topic), table, bus
