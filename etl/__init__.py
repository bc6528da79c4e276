"""Adapters, entry points and the local harness around the pure `etl_core` library."""
