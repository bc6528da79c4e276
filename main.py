"""Cloud Functions entry points (functions-framework). This directory deploys unchanged.

Pub/Sub-triggered functions receive a CloudEvent (`google.cloud.pubsub.topic.v1.messagePublished`);
returning acknowledges the message, raising makes Pub/Sub redeliver it.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from etl.entrypoints import functions
from etl.service import handlers


@functions_framework.http
def simulate_acceso_data(request: Any) -> tuple[str, int, dict[str, str]]:
    """HTTP: publish simulated Acceso events (`{"limit", "speedFactor"}`); 403 on prod."""
    return functions.simulate_http(request)


@functions_framework.cloud_event
def pubsub_receiver(cloud_event: Any) -> None:
    """Current pipeline: write the event row and update its service's occupancy."""
    functions.on_cloud_event(cloud_event, handlers.handle_current, "pubsub_receiver")


@functions_framework.cloud_event
def write_event(cloud_event: Any) -> None:
    """Fan-out: write the event row, then republish it on the `written` topic."""
    functions.on_cloud_event(cloud_event, handlers.handle_write_event, "write_event")


@functions_framework.cloud_event
def calculate_occupancy(cloud_event: Any) -> None:
    """Fan-out calculation: current occupancy of the event's service."""
    functions.on_cloud_event(
        cloud_event, handlers.handle_calculate_occupancy, "calculate_occupancy"
    )


@functions_framework.cloud_event
def hourly_counts(cloud_event: Any) -> None:
    """Fan-out calculation: entries and exits per service-hour."""
    functions.on_cloud_event(cloud_event, handlers.handle_hourly_counts, "hourly_counts")


@functions_framework.cloud_event
def daily_peak(cloud_event: Any) -> None:
    """Fan-out calculation: peak occupancy per service per day."""
    functions.on_cloud_event(cloud_event, handlers.handle_daily_peak, "daily_peak")
