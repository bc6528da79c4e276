"""The one place where real adapters are wired into the handlers."""

from __future__ import annotations

from etl.adapters.bigtable import EventTable
from etl.adapters.pubsub import PubSub
from etl.config import Settings
from etl.service.handlers import Runtime
from etl.service.ledger import Limits


def build(settings: Settings) -> tuple[Runtime, EventTable, PubSub]:
    """A `Runtime` over the official clients, plus the adapters for setup and shutdown."""
    table = EventTable(settings)
    bus = PubSub(settings)
    rt = Runtime(
        table=table,
        bus=bus,
        written_topic=settings.written_topic,
        limits=Limits(horizon=settings.ledger_horizon_hours),
    )
    rt.counters.flush_in_background(table.add_counters)
    return rt, table, bus
