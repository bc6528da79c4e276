"""The project's error hierarchy: one root, narrow subclasses that carry a reason code.

Permanent errors (bad input) are raised where input enters the core; the entry points decide what
to do with them (dead-letter and acknowledge). Nothing in `etl_core` raises for a transient cause.
"""

from __future__ import annotations

import enum


class EtlError(Exception):
    """Root of every error this project raises on purpose."""


class Reason(enum.StrEnum):
    """Why a message was rejected; stable strings, used as dead-letter attributes and in logs."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    BAD_SERVICE = "bad_service"
    BAD_TIME = "bad_time"
    BAD_DELTA = "bad_delta"
    BAD_EVENT_ID = "bad_event_id"
    TOO_LARGE = "too_large"
    BAD_ENVELOPE = "bad_envelope"


class InvalidEvent(EtlError):
    """A message that can never become a valid `Event`: retrying it cannot help."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class InvalidKey(EtlError, ValueError):
    """A row key that is not one this library writes (or not the kind the caller asked for)."""


def describe(value: object) -> str:
    """A short description of an untrusted value for an error message (never a huge repr)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return "a large integer"
    if value is None or isinstance(value, str | int | float):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return f"a {type(value).__name__}"
