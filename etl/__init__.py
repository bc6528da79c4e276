"""What Cloud Functions and the worker run, around the pure `etl_core`: service, adapters, entry
points. Deployed; imports nothing of `etl_harness`."""
