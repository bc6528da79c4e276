"""Hostile input: every malformed kind is dead-lettered once, with its reason and original bytes,
while the valid messages around it are processed; hostile service names cannot collide."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections import Counter

import pytest
from google.api_core import exceptions as gexc

from etl.adapters.pubsub import Outgoing
from etl_harness import settling
from etl_harness.cli import commands
from tests.e2e.faults import (
    SETTLE_S,
    Rig,
    fail_first_after_forwarding,
    proxied,
    push_targets,
    shuffled,
    simulation,
    wait_until,
)
from tests.unit.core.core_strategies import TRICKY_SERVICES

T = "2024-05-06T08:00:00.000Z"


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


MALFORMED: dict[bytes, str] = {
    b"not json": "not_json",
    b"\xff\xfe{}": "not_utf8",
    b"[1, 2]": "not_object",
    body(service="gate", event=1): "missing_field",
    body(eventTime=T, event=1): "missing_field",
    body(service="gate", eventTime=T): "missing_field",
    body(service=5, eventTime=T, event=1): "bad_service",
    body(service="", eventTime=T, event=1): "bad_service",
    body(service="x" * 129, eventTime=T, event=1): "bad_service",
    body(service="a\nb", eventTime=T, event=1): "bad_service",
    body(service="gate", eventTime=T, event=2): "bad_delta",
    body(service="gate", eventTime=T, event="1"): "bad_delta",
    body(service="gate", eventTime=T, event=True): "bad_delta",
    body(service="gate", eventTime=T, event=1.0): "bad_delta",
    body(service="gate", eventTime="2024-05-06T08:00:00", event=1): "bad_time",
    body(service="gate", eventTime="2024-02-30T08:00:00Z", event=1): "bad_time",
    body(service="gate", eventTime="9999-01-01T00:00:00Z", event=1): "bad_time",
    body(service="gate", eventTime=True, event=1): "bad_time",
    body(service="gate", eventTime=T, event=1, eventId=7): "bad_event_id",
    body(service="gate", eventTime=T, event=1, pad="x" * 70_000): "too_large",
}


@pytest.mark.parametrize("pipeline", ["worker", "current", "fanout"])
def test_every_malformed_kind_is_dead_lettered_once_with_its_reason_and_original_bytes(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=60, seed=81)
    malformed = MALFORMED
    messages = shuffled(
        [
            *(Outgoing(data) for data in malformed),
            *(Outgoing(e.to_json(), e.service) for e in sim.events),
        ],
        seed=81,
    )
    with rig.served(pipeline) as serve:
        redeliver = (
            proxied(
                rig.bus,
                rig.settings,
                serve,
                fail_first_after_forwarding,
                push_targets(rig.settings, pipeline)[:1],
            )
            if pipeline != "worker"
            else contextlib.nullcontext()
        )
        with redeliver:  # push shapes: each message, bad ones too, is processed twice
            rig.bus.publish(rig.settings.events_topic, messages)
            rig.wait_settled(sim.events, hourly=pipeline != "current")
            wait_until(
                lambda: len(commands.list_dead_letters(rig.settings)) >= len(malformed),
                SETTLE_S,
                "every malformed message dead-lettered",
            )

    letters = commands.list_dead_letters(rig.settings)
    assert Counter(d.data for d in letters) == Counter(dict.fromkeys(malformed, 1))
    assert {d.data: d.reason for d in letters} == malformed
    assert all(d.attributes["originalMessageId"] for d in letters)
    assert not settling.mismatch(rig.table, sim.events, hourly=pipeline != "current")


def test_an_empty_message_is_refused_at_publish_as_production_refuses_it(rig: Rig) -> None:
    """No subscriber ever receives an empty message (no data, no attributes): Pub/Sub refuses it
    with INVALID_ARGUMENT, and so do our emulator and Google's."""
    with pytest.raises(gexc.InvalidArgument, match="empty"):
        rig.bus.publish(rig.settings.events_topic, [Outgoing(b"")])


@pytest.mark.parametrize(
    "envelope",
    [
        {"message": {"data": "not base64!", "messageId": "env-1"}, "subscription": "s"},
        {"message": {"data": 5, "messageId": "env-2"}, "subscription": "s"},
        {"message": {"data": "e30=", "messageId": "env-3", "attributes": [1]}, "subscription": "s"},
    ],
)
def test_a_push_body_with_a_broken_envelope_is_dead_lettered_as_bad_envelope(
    envelope: dict[str, object], rig: Rig
) -> None:
    with rig.served("current") as serve:
        request = urllib.request.Request(
            serve.urls["pubsub_receiver"],
            data=json.dumps(envelope).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
        wait_until(
            lambda: bool(commands.list_dead_letters(rig.settings)), SETTLE_S, "the dead letter"
        )
    letters = commands.list_dead_letters(rig.settings)
    assert status == 200, "acknowledged: retrying a broken envelope cannot help"
    assert [d.reason for d in letters] == ["bad_envelope"]


HOSTILE_SERVICES = (*TRICKY_SERVICES, "a" * 127)
"""The names the core's row-key tests draw from (escapes, separators, other scripts, the longest
allowed), and one byte short of the longest."""


@pytest.mark.parametrize("pipeline", ["worker", "current"])
def test_hostile_service_names_never_collide_or_leak_into_each_others_scans(
    pipeline: str, rig: Rig
) -> None:
    sim = simulation(limit=400, seed=82, services=HOSTILE_SERVICES)
    with rig.served(pipeline):
        rig.bus.publish_events(rig.settings.events_topic, shuffled(sim.events, seed=82))
        rig.wait_settled(sim.events, hourly=pipeline == "worker")

    rig.assert_exact(sim.events, hourly=pipeline == "worker")
    occupancy = commands.read_occupancy(rig.settings)
    assert {s: o.value for s, o in occupancy.items()} == sim.ground_truth
    for service in HOSTILE_SERVICES:
        assert {e.service for e in rig.table.scan_events(service)} <= {service}
