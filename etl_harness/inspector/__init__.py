"""`etl inspect`: a local web page over the pipeline's emulators, read-only.

Topics and subscriptions with backlogs, recent messages, dead letters with reasons, occupancy
per service, hourly entries/exits and the latest event rows of one project and stage, polled
every second; over time, occupancy per service by hour (from the stored summary), backlog and
messages/s per subscription (sampled into bounded ring buffers, `history`), dead letters by
reason, and the faults injected per subscription. Backlogs, messages and faults come from our
Pub/Sub emulator's admin API (`ETL_PUBSUB_ADMIN_HOST`); without it (Google's emulator,
production) they show as n/a.
"""

from etl_harness.inspector.app import create_app, serve, serving

__all__ = ["create_app", "serve", "serving"]
