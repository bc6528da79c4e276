"""The registry (`etl.pipeline`): its manifest keeps the contract the Terraform reads, and
`main.py` holds exactly its functions, each served by functions-framework (`--target NAME`) and
calling its registered handler."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import functions_framework
import functions_framework._function_registry as ff_registry
import pytest
from hypothesis import given
from hypothesis import strategies as st

import main
from etl import pipeline
from etl.config import STAGES
from etl.entrypoints import functions
from etl.service import handlers

REPO = Path(__file__).resolve().parents[3]

CONTRACT_FUNCTION_KEYS = [
    "name",
    "shape",
    "trigger_topic",
    "subscription",
    "ack_deadline_seconds",
    "minimum_backoff_seconds",
    "maximum_backoff_seconds",
    "dead_letter_topic",
    "max_delivery_attempts",
    "publishes_to",
]
CONTRACT_WORKER_KEYS = [
    "subscription",
    "topic",
    *CONTRACT_FUNCTION_KEYS[4:-1],
    "publishes_to",
    "command",
]


DEV_DELIVERY = {
    "ack_deadline_seconds": 60,
    "minimum_backoff_seconds": 0.1,
    "maximum_backoff_seconds": 10,
    "dead_letter_topic": "acceso-deadletter-dev",
    "max_delivery_attempts": 20,
    "publishes_to": ["acceso-deadletter-dev"],
}
"""The contract's delivery settings of `pubsub_receiver` and the worker in dev."""


def keys_in_order(found: dict[str, Any], expected: list[str]) -> list[str]:
    """`found`'s keys that the contract names, in `found`'s order (extra keys are allowed)."""
    return [k for k in found if k in expected]


def test_the_dev_manifest_is_the_contract_s_example() -> None:
    m = pipeline.manifest("dev", "local-project")
    assert list(m)[:7] == [
        "project",
        "stage",
        "topics",
        "bigtable",
        "functions",
        "http_functions",
        "worker",
    ]
    assert m["topics"] == {
        "events": "acceso-events-dev",
        "written": "acceso-written-dev",
        "dead_letter": "acceso-deadletter-dev",
    }
    assert m["bigtable"] == {
        "instance": "iotincoming",
        "table": "incomingraw_dev",
        "families": {"event": {"max_versions": 1}, "realTimeStatus": {"max_versions": 1}},
    }
    receiver = m["functions"][0]
    assert keys_in_order(receiver, CONTRACT_FUNCTION_KEYS) == CONTRACT_FUNCTION_KEYS
    assert {k: receiver[k] for k in CONTRACT_FUNCTION_KEYS} == {
        "name": "pubsub_receiver",
        "shape": "current",
        "trigger_topic": "acceso-events-dev",
        "subscription": "pubsub-receiver-dev",
        **DEV_DELIVERY,
    }
    assert m["http_functions"] == [
        {
            "name": "simulate_acceso_data",
            "stages": ["dev", "test"],
            "publishes_to": ["acceso-events-dev"],
        }
    ]
    worker = m["worker"]
    assert keys_in_order(worker, CONTRACT_WORKER_KEYS) == CONTRACT_WORKER_KEYS
    assert {k: worker[k] for k in CONTRACT_WORKER_KEYS} == {
        "subscription": "worker-dev",
        "topic": "acceso-events-dev",
        **DEV_DELIVERY,
        "command": ["python", "-m", "etl.entrypoints.worker"],
    }


def test_the_fan_out_writer_alone_publishes_to_the_written_topic() -> None:
    publishing = [
        f["name"]
        for f in pipeline.manifest("test", "p")["functions"]
        if "acceso-written-test" in f["publishes_to"]
    ]
    assert publishing == ["write_event"]


@given(st.sampled_from(STAGES), st.from_regex(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", fullmatch=True))
def test_every_name_of_a_manifest_carries_its_stage(stage: str, project: str) -> None:
    m = pipeline.manifest(stage, project)
    names = [
        *m["topics"].values(),
        m["bigtable"]["table"],
        m["worker"]["subscription"],
        *(f["subscription"] for f in m["functions"]),
        *(f["trigger_topic"] for f in m["functions"]),
    ]
    assert all(name.endswith((f"_{stage}", f"-{stage}")) for name in names)
    assert m["project"] == project
    assert json.loads(json.dumps(m)) == m


def test_python_m_etl_pipeline_prints_the_manifest() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "etl.pipeline", "--stage", "prod", "--project", "acme-1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == pipeline.manifest("prod", "acme-1")


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="no pipeline shape 'nope'"):
        pipeline.shape_functions("nope")


# --- main.py is the registry's functions, nothing else ---------------------------------------


CLOUD_EVENT = Path(__file__).with_name("data") / "pubsub_cloud_event.json"
"""A Pub/Sub `messagePublished` CloudEvent in structured mode, as Eventarc pushes it."""


def main_py_functions() -> dict[str, str]:
    """main.py's public entry points → their functions-framework signature type."""
    defined = {
        name
        for name, value in inspect.getmembers(main, inspect.isfunction)
        if value.__module__ == "main" and not name.startswith("_")
    }
    return {name: ff_registry.REGISTRY_MAP[name] for name in defined}


def test_main_py_holds_exactly_the_registry_s_functions() -> None:
    expected = {f.name: "cloudevent" for f in pipeline.FUNCTIONS} | {
        h.name: "http" for h in pipeline.HTTP_FUNCTIONS
    }
    assert main_py_functions() == expected


@pytest.mark.parametrize("entry", pipeline.FUNCTIONS, ids=lambda f: f.name)
def test_functions_framework_serves_each_registry_function_calling_its_handler(
    entry: pipeline.Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any, str]] = []
    monkeypatch.setattr(
        functions,
        "on_cloud_event",
        lambda event, handler, source: calls.append((event, handler, source)),
    )
    app = functions_framework.create_app(target=entry.name, source=str(REPO / "main.py"))
    body = json.loads(CLOUD_EVENT.read_text())
    response = app.test_client().post(
        "/", data=json.dumps(body), headers={"Content-Type": "application/cloudevents+json"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    [(event, handler, source)] = calls
    assert (event["id"], event["type"], event.data) == (body["id"], body["type"], body["data"])
    assert (handler, source) == (handlers.of(entry), entry.name)
    assert getattr(main, entry.name).__doc__ == entry.about


def test_every_shape_but_the_worker_runs_functions() -> None:
    assert [f.name for f in pipeline.shape_functions("current")] == ["pubsub_receiver"]
    assert pipeline.shape_functions("worker") == ()
    assert {f for s in pipeline.SHAPES for f in pipeline.shape_functions(s)} == set(
        pipeline.FUNCTIONS
    )


@pytest.mark.parametrize(("handler", "summary"), [("", ""), ("handle_current", "daily")])
def test_a_function_names_a_handler_or_a_summary_not_both_nor_neither(
    handler: str, summary: str
) -> None:
    with pytest.raises(ValueError, match="give a handler or a summary"):
        pipeline.Function("f", "fanout", "written", handler=handler, summary=summary)


@pytest.mark.parametrize("entry", pipeline.FUNCTIONS, ids=lambda f: f.name)
def test_every_registry_function_resolves_to_a_handler_or_a_ledger_summary(
    entry: pipeline.Function,
) -> None:
    from etl.service import ledger

    if entry.summary:
        assert entry.summary in ledger.SUMMARIES
    else:
        assert callable(getattr(handlers, entry.handler))
    assert handlers.of(entry) is handlers.of(entry)
