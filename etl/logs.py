"""Structured JSON logs that Cloud Logging understands (`severity`, `message`), via structlog."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog


def _cloud_severity(_: Any, method: str, event_dict: structlog.typing.EventDict) -> Any:
    event_dict["severity"] = {"warning": "WARNING", "error": "ERROR", "exception": "ERROR"}.get(
        method, method.upper()
    )
    event_dict["message"] = event_dict.pop("event", "")
    return event_dict


def _process_id(_: Any, __: str, event_dict: structlog.typing.EventDict) -> Any:
    """Which process logged the line: several serve one endpoint (`etl serve --processes`), as
    concurrent instances of a function do."""
    event_dict["pid"] = os.getpid()
    return event_dict


_level = logging.INFO


def level() -> int:
    """The level `configure` was last given (child processes are given the same)."""
    return _level


def configure(level: int = logging.INFO, stream: Any = None) -> None:
    """One JSON object per line on stderr (or `stream`); call once at process start."""
    global _level
    _level = level
    structlog.configure(
        processors=[
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.processors.format_exc_info,
            _cloud_severity,
            _process_id,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line: several processes may share the stream (`etl serve --processes`),
        # and `print` writes the line and its newline separately, so lines could interleave.
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


configure()
log: structlog.typing.FilteringBoundLogger = structlog.get_logger("etl")
