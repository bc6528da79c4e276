"""Pure core of the Acceso ETL: events, row keys, occupancy, analytics and the simulator.

Standard library only, and no I/O: no network, files, environment or clock (`now` is always an
argument) and no unseeded randomness, so everything here is deterministic and unit-testable.
"""

from etl_core.analytics import (
    DailyPeak,
    HourlyCount,
    Peak,
    ServiceSummary,
    daily_peaks,
    hour_of,
    hourly_counts,
    occupancy_series,
    peak_occupancy,
    summarize,
)
from etl_core.errors import EtlError, InvalidEvent, InvalidKey, Reason
from etl_core.events import (
    MAX_FUTURE,
    MAX_MESSAGE_BYTES,
    Event,
    PubSubMessage,
    parse_event,
    unwrap_cloud_event,
    validate_event_id,
    validate_service,
)
from etl_core.occupancy import Occupancy, fold, sort_key
from etl_core.rowkeys import (
    MAX_KEY_BYTES,
    daily_key,
    decode_event_key,
    event_key,
    hourly_key,
    is_event_key,
    service_prefix,
    service_range,
    status_key,
    time_range,
)
from etl_core.simulator import DEFAULT_SERVICES, InvalidSimulation, Simulation, pacing, simulate

__all__ = [
    "DEFAULT_SERVICES",
    "MAX_FUTURE",
    "MAX_KEY_BYTES",
    "MAX_MESSAGE_BYTES",
    "DailyPeak",
    "EtlError",
    "Event",
    "HourlyCount",
    "InvalidEvent",
    "InvalidKey",
    "InvalidSimulation",
    "Occupancy",
    "Peak",
    "PubSubMessage",
    "Reason",
    "ServiceSummary",
    "Simulation",
    "daily_key",
    "daily_peaks",
    "decode_event_key",
    "event_key",
    "fold",
    "hour_of",
    "hourly_counts",
    "hourly_key",
    "is_event_key",
    "occupancy_series",
    "pacing",
    "parse_event",
    "peak_occupancy",
    "service_prefix",
    "service_range",
    "simulate",
    "sort_key",
    "status_key",
    "summarize",
    "time_range",
    "unwrap_cloud_event",
    "validate_event_id",
    "validate_service",
]
