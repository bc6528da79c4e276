"""The differences the differential test found and keeps, each with why it is not ours to fix:
Google's emulator departs from production's documented behaviour, or production leaves the point
open. Each has a test of its own (`test_known_differences.py`) and a row in
docs/emulators/differences.md ("What the differential test found").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.differential.sides import OK, Outcome

ACTIVE = 1
"""`Subscription.State.ACTIVE`."""


def detach_unimplemented(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """Google's Java emulator has no DetachSubscription (UNIMPLEMENTED); production and ours do."""
    del tags
    if method == "detach_subscription" and google.code == "UNIMPLEMENTED":
        return ours
    return None


def subscription_state_unset(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """Google's Java emulator leaves `Subscription.state` unset (STATE_UNSPECIFIED); production
    reports ACTIVE for a subscription that can receive messages, as ours does."""
    del method, tags
    value = google.value
    if not (google.ok and isinstance(value, dict) and value.get("state") == 0 and "topic" in value):
        return None
    return dataclasses.replace(google, value={**value, "state": ACTIVE})


REFUSALS = {"INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS"}


def check_order(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """A request that is malformed and also names a missing resource (or creates one that
    exists): both emulators refuse it, one with INVALID_ARGUMENT, the other with NOT_FOUND or
    ALREADY_EXISTS. Production documents each refusal, not which of two wins."""
    del method
    clashes = "malformed" in tags and ({"missing", "exists"} & tags)
    refused = {ours.code, google.code} <= REFUSALS and "INVALID_ARGUMENT" in {
        ours.code,
        google.code,
    }
    return ours if clashes and refused else None


MILLIS = 1
"""`Table.TimestampGranularity.MILLIS`."""


def table_granularity_unset(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """cbtemulator leaves `Table.granularity` unset; production sets MILLIS when none is given
    ("If unspecified at creation time, the value will be set to MILLIS"), as ours does."""
    del method, tags
    value = google.value
    if not (google.ok and isinstance(value, dict) and value.get("granularity") == 0):
        return None
    return dataclasses.replace(google, value={**value, "granularity": MILLIS})


def microsecond_timestamp(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """A cell timestamp that is not a whole millisecond: production and ours refuse it with
    INVALID_ARGUMENT (the table's granularity is MILLIS: "Timestamps not matching the
    granularity will be rejected"); cbtemulator refuses a SetCell too, but with an error
    carrying no gRPC code (UNKNOWN), and accepts an AddToCell (`test_known_differences.py`; the
    random mix leaves that one out, as the two tables would then differ)."""
    del method
    if "micros" in tags and ours.code == "INVALID_ARGUMENT" and google.code in {"UNKNOWN", OK}:
        return ours
    return None


def _by_family(row: tuple[bytes, list[tuple[Any, ...]]]) -> tuple[bytes, list[tuple[Any, ...]]]:
    key, cells = row
    return key, sorted(cells, key=lambda cell: cell[0])  # stable: columns and versions keep order


def family_order(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """A row's column families come in lexicographic order from production and ours, in the
    order cbtemulator created them (already listed in the differences table)."""
    del tags
    if not google.ok or method not in {"read_rows", "read_modify_write_row"}:
        return None
    if method == "read_rows":
        value: Any = [_by_family(row) for row in google.value]
    else:
        value = _by_family(google.value)
    return dataclasses.replace(google, value=value) if value != google.value else None


def labels_not_updatable(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """An update mask naming `labels`: production updates a topic's or a subscription's labels
    (`gcloud pubsub topics update --update-labels`), as ours does; Google's Java emulator
    refuses the path ("labels is not a known Topic field")."""
    if (
        method in {"update_topic", "update_subscription"}
        and "labels" in tags
        and ours.ok
        and google.code == "INVALID_ARGUMENT"
    ):
        return ours
    return None


def topic_retention_unset(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """A subscription of a topic with a message retention: production reports the topic's in the
    output-only `topic_message_retention_duration`, as ours does; Google's Java emulator leaves
    it out."""
    del method, tags
    mine, theirs = ours.value, google.value
    if not (ours.ok and google.ok and isinstance(mine, dict) and isinstance(theirs, dict)):
        return None
    if (
        "topic_message_retention_duration" not in mine
        or "topic_message_retention_duration" in theirs
    ):
        return None
    copied = {
        **theirs,
        "topic_message_retention_duration": mine["topic_message_retention_duration"],
    }
    return dataclasses.replace(google, value=copied)


def snapshots_of_a_missing_topic(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """`ListTopicSnapshots` of a topic that does not exist: ours answers NOT_FOUND, Google's Java
    emulator an empty list. Production's reference documents neither; both tell a caller there
    is nothing to list."""
    empty = google.ok and not google.value
    if (
        method == "list_topic_snapshots"
        and "missing" in tags
        and ours.code == "NOT_FOUND"
        and empty
    ):
        return ours
    return None


def out_of_range_code(
    method: str, ours: Outcome, google: Outcome, tags: frozenset[str]
) -> Outcome | None:
    """A dead-letter policy's `max_delivery_attempts` outside 5-100: ours refuses it with
    INVALID_ARGUMENT, Google's Java emulator with OUT_OF_RANGE. Production documents the range,
    not the code; both refuse."""
    del method
    if "malformed" in tags and ours.code == "INVALID_ARGUMENT" and google.code == "OUT_OF_RANGE":
        return ours
    return None
