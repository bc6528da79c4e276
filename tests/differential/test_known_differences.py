"""One example per known difference (`compare.KNOWN`): what ours answers (production's documented
behaviour), what Google's emulator answers instead, and that `compare.both` names the difference.
When Google's emulator changes, its test fails here and the normaliser can go.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.cloud.bigtable.data import ReadRowsQuery
from google.cloud.bigtable.data import mutations as mut
from google.cloud.bigtable_admin_v2 import types as admin
from google.protobuf import duration_pb2, field_mask_pb2
from google.pubsub_v1 import types as ps

from tests.differential.compare import KNOWN, Compared, both
from tests.differential.sides import Side
from tests.differential.test_bigtable_differential import BASE_MICROS, PROJECT, SUM_TYPE, _row

_names = itertools.count()
T = 30.0


@pytest.fixture
def project() -> str:
    return f"projects/known-{next(_names)}"


@pytest.fixture
def instance() -> str:
    return f"known-{next(_names)}"


def on_both(sides: tuple[Side, Side], call: Callable[[Side], Any]) -> None:
    """Set-up both sides must accept."""
    for side in sides:
        call(side)


def plain(message: Any) -> dict[str, Any]:
    return dict(type(message).to_dict(message, preserving_proto_field_name=True))


def topic_and_subscription(sides: tuple[Side, Side], project: str) -> str:
    topic, sub = f"{project}/topics/known", f"{project}/subscriptions/known"
    on_both(
        sides, lambda s: s.publisher.create_topic(request={"name": topic}, retry=None, timeout=T)
    )
    request = {"name": sub, "topic": topic, "ack_deadline_seconds": 60}
    on_both(
        sides, lambda s: s.subscriber.create_subscription(request=request, retry=None, timeout=T)
    )
    return sub


def test_detach_is_unimplemented_in_googles_emulator_and_detaches_in_ours(
    sides: tuple[Side, Side], project: str
) -> None:
    sub = topic_and_subscription(sides, project)
    request = {"subscription": sub}
    compared = both(
        sides,
        "detach_subscription",
        lambda s: s.publisher.detach_subscription(request=request, retry=None, timeout=T),
    )
    assert (compared.ours.code, compared.google.code) == ("OK", "UNIMPLEMENTED")
    assert compared.known == ("detach-unimplemented",)
    assert sides[0].subscriber.get_subscription(request=request, retry=None, timeout=T).detached


def test_googles_emulator_leaves_the_subscription_state_unset_where_ours_says_active(
    sides: tuple[Side, Side], project: str
) -> None:
    sub = topic_and_subscription(sides, project)
    compared = both(
        sides,
        "get_subscription",
        lambda s: s.subscriber.get_subscription(
            request={"subscription": sub}, retry=None, timeout=T
        ),
        plain,
    )
    assert compared.ours.value["state"] == ps.Subscription.State.ACTIVE
    assert compared.google.value["state"] == ps.Subscription.State.STATE_UNSPECIFIED
    assert compared.known == ("subscription-state-unset",)


def test_googles_emulator_leaves_out_the_topics_retention_which_ours_reports_on_the_subscription(
    sides: tuple[Side, Side], project: str
) -> None:
    topic, sub = f"{project}/topics/kept", f"{project}/subscriptions/kept"
    kept = ps.Topic(name=topic, message_retention_duration=duration_pb2.Duration(seconds=600))
    on_both(sides, lambda s: s.publisher.create_topic(request=kept, retry=None, timeout=T))
    request = {"name": sub, "topic": topic, "ack_deadline_seconds": 60}
    compared = both(
        sides,
        "create_subscription",
        lambda s: s.subscriber.create_subscription(request=request, retry=None, timeout=T),
        plain,
    )
    assert compared.ours.value["topic_message_retention_duration"] == "600s"
    assert "topic_message_retention_duration" not in compared.google.value
    assert "topic-retention-unset" in compared.known


def test_googles_emulator_refuses_to_update_labels_which_ours_updates(
    sides: tuple[Side, Side], project: str
) -> None:
    sub = topic_and_subscription(sides, project)
    request = {
        "subscription": {"name": sub, "labels": {"team": "etl"}},
        "update_mask": field_mask_pb2.FieldMask(paths=["labels"]),
    }
    compared = both(
        sides,
        "update_subscription",
        lambda s: s.subscriber.update_subscription(request=request, retry=None, timeout=T),
        plain,
        frozenset({"labels"}),
    )
    assert (compared.ours.code, compared.google.code) == ("OK", "INVALID_ARGUMENT")
    assert compared.ours.value["labels"] == {"team": "etl"}
    assert compared.known == ("labels-not-updatable",)


def test_the_snapshots_of_a_missing_topic_are_not_found_in_ours_and_none_in_googles(
    sides: tuple[Side, Side], project: str
) -> None:
    request = {"topic": f"{project}/topics/never"}
    compared = both(
        sides,
        "list_topic_snapshots",
        lambda s: list(s.publisher.list_topic_snapshots(request=request, retry=None, timeout=T)),
        tags=frozenset({"missing"}),
    )
    assert (compared.ours.code, compared.google.code, compared.google.value) == (
        "NOT_FOUND",
        "OK",
        [],
    )
    assert compared.known == ("snapshots-of-a-missing-topic",)


def test_too_many_delivery_attempts_are_invalid_in_ours_and_out_of_range_in_googles(
    sides: tuple[Side, Side], project: str
) -> None:
    topic = f"{project}/topics/dead"
    on_both(
        sides, lambda s: s.publisher.create_topic(request={"name": topic}, retry=None, timeout=T)
    )
    request = ps.Subscription(
        name=f"{project}/subscriptions/dead",
        topic=topic,
        ack_deadline_seconds=60,
        dead_letter_policy=ps.DeadLetterPolicy(dead_letter_topic=topic, max_delivery_attempts=101),
    )
    compared = both(
        sides,
        "create_subscription",
        lambda s: s.subscriber.create_subscription(request=request, retry=None, timeout=T),
        tags=frozenset({"malformed"}),
    )
    assert (compared.ours.code, compared.google.code) == ("INVALID_ARGUMENT", "OUT_OF_RANGE")
    assert compared.known == ("out-of-range-code",)


@pytest.mark.parametrize(
    ("clash", "codes"),
    [
        ("missing", ("INVALID_ARGUMENT", "NOT_FOUND")),
        ("exists", ("ALREADY_EXISTS", "INVALID_ARGUMENT")),
    ],
    ids=["missing", "exists"],
)
def test_a_request_both_malformed_and_naming_a_missing_or_existing_resource_is_refused_by_both(
    sides: tuple[Side, Side], project: str, clash: str, codes: tuple[str, str]
) -> None:
    """`missing`: a publish of no messages to a topic that does not exist; `exists`: a topic
    created again with a retention under the 10-minute minimum."""
    topic = f"{project}/topics/{clash}"
    request: Any
    if clash == "missing":
        method, request = "publish", {"topic": topic, "messages": []}
    else:
        on_both(
            sides,
            lambda s: s.publisher.create_topic(request={"name": topic}, retry=None, timeout=T),
        )
        retention = duration_pb2.Duration(seconds=599)
        method, request = "create_topic", ps.Topic(name=topic, message_retention_duration=retention)
    compared = both(
        sides,
        method,
        lambda s: getattr(s.publisher, method)(request=request, retry=None, timeout=T),
        tags=frozenset({"malformed", clash}),
    )
    assert (compared.ours.code, compared.google.code) == codes
    assert compared.known == ("check-order",)


def table(sides: tuple[Side, Side], instance: str, *families: str, sum_family: bool = False) -> str:
    parent = f"projects/{PROJECT}/instances/{instance}"
    column_families = {family: admin.ColumnFamily() for family in families}
    if sum_family:
        column_families["sum"] = admin.ColumnFamily(value_type=SUM_TYPE)
    request = {
        "parent": parent,
        "table_id": "known",
        "table": admin.Table(column_families=column_families),
    }
    on_both(sides, lambda s: s.tables.create_table(request=request, retry=None, timeout=T))
    return f"{parent}/tables/known"


def test_cbtemulator_leaves_the_table_granularity_unset_where_ours_says_millis(
    sides: tuple[Side, Side], instance: str
) -> None:
    name = table(sides, instance, "cf")
    compared = both(
        sides,
        "get_table",
        lambda s: s.tables.get_table(request={"name": name}, retry=None, timeout=T),
        plain,
    )
    assert (compared.ours.value["granularity"], compared.google.value["granularity"]) == (1, 0)
    assert compared.known == ("table-granularity-unset",)


def test_cbtemulator_refuses_a_microsecond_timestamp_without_a_grpc_code_or_accepts_it(
    sides: tuple[Side, Side], instance: str
) -> None:
    table(sides, instance, "cf", sum_family=True)
    set_cell = mut.SetCell("cf", b"q", b"v", BASE_MICROS + 1)
    add_to_cell = mut.AddToCell("sum", b"q", 1, BASE_MICROS + 1)
    for mutation, google_code in ((set_cell, "UNKNOWN"), (add_to_cell, "OK")):
        compared = both(
            sides,
            "mutate_row",
            lambda s, m=mutation: s.data.get_table(instance, "known").mutate_row(
                b"r", [m], operation_timeout=T
            ),
            tags=frozenset({"micros"}),
        )
        assert (compared.ours.code, compared.google.code) == ("INVALID_ARGUMENT", google_code)
        assert compared.known == ("microsecond-timestamp",)


def test_cbtemulator_returns_families_in_creation_order_where_ours_sorts_them(
    sides: tuple[Side, Side], instance: str
) -> None:
    name = table(sides, instance, "zeta")
    add = {"name": name, "modifications": [{"id": "aa", "create": {}}]}
    on_both(sides, lambda s: s.tables.modify_column_families(request=add, retry=None, timeout=T))
    cells = [mut.SetCell(f, b"q", b"v", BASE_MICROS) for f in ("zeta", "aa")]
    on_both(
        sides,
        lambda s: s.data.get_table(instance, "known").mutate_row(b"r", cells, operation_timeout=T),
    )
    compared: Compared = both(
        sides,
        "read_rows",
        lambda s: s.data.get_table(instance, "known").read_rows(
            ReadRowsQuery(), operation_timeout=T
        ),
        lambda rows: [_row(r) for r in rows],
    )
    families = [
        [cell[0] for cell in row[1]] for row in (compared.ours.value[0], compared.google.value[0])
    ]
    assert families == [["aa", "zeta"], ["zeta", "aa"]]
    assert compared.known == ("family-order",)


def test_every_known_difference_has_a_row_naming_its_test_in_the_differences_page() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "emulators" / "differences.md"
    section = page.read_text().split("## What the differential test found", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    tests = sorted(
        name for name in globals() if name.startswith("test_") and "differences_page" not in name
    )
    assert len(rows) == len(KNOWN) == len(tests)
    for name in tests:
        assert f"test_known_differences.py::{name}`" in section, name
