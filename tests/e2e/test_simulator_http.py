"""The original design's `simulateAccesoData` over HTTP, through functions-framework's test
client."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import functions_framework
import pytest

from etl.config import from_env
from etl.entrypoints import functions
from etl_harness.function_servers import main_py


@pytest.fixture
def client(
    etl_emulator_hosts: object,
    monkeypatch: pytest.MonkeyPatch,
    etl_unique_name: Callable[[str], str],
) -> Any:
    del etl_emulator_hosts
    monkeypatch.setattr(functions, "_wired", None)
    functions.configure(replace(from_env(os.environ), project=etl_unique_name("sim"), stage="dev"))
    app = functions_framework.create_app(target="simulate_acceso_data", source=main_py())
    return app.test_client()


def post(client: Any, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/", data=data, headers={"Content-Type": "application/json", **headers})


def test_a_valid_request_publishes_the_events_and_says_how_many(client: Any) -> None:
    response = post(client, {"limit": 25, "speedFactor": 1e9, "seed": 4}, Accept="application/json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["published"] == 25
    assert sum(1 for _ in body["groundTruth"]) == 3


def test_plain_text_is_the_default_answer_as_in_the_original_design(client: Any) -> None:
    response = post(client, {"limit": 3, "speedFactor": 1e9})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "3 events published\n"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "JSON object"),
        ([1, 2], "JSON object"),
        ({"speedFactor": 60}, "limit must be"),
        ({"limit": 0, "speedFactor": 60}, "limit must be"),
        ({"limit": 100_001, "speedFactor": 60}, "limit must be"),
        ({"limit": True, "speedFactor": 60}, "limit must be"),
        ({"limit": 10, "speedFactor": 0}, "speedFactor must be"),
        ({"limit": 10, "speedFactor": "fast"}, "speedFactor must be"),
        ({"limit": 10, "speedFactor": 60, "colour": "red"}, "unknown field(s): colour"),
        ({"limit": 10, "speedFactor": 60, "services": []}, "services must be"),
        ({"limit": 10, "speedFactor": 60, "services": ["a\nb"]}, "control"),
        ({"limit": 10, "speedFactor": 60, "project": "elsewhere"}, "not 'elsewhere'"),
    ],
)
def test_bad_requests_get_400_with_a_clear_message(client: Any, body: Any, fragment: str) -> None:
    response = post(client, body, Accept="application/json")
    assert response.status_code == 400
    assert fragment in response.get_json()["error"]


def test_wrong_method_gets_405(client: Any) -> None:
    assert client.get("/").status_code == 405


def test_the_simulator_is_refused_on_prod(client: Any) -> None:
    settings, _ = functions.wired()
    functions.configure(replace(settings, stage="prod"))
    response = post(client, {"limit": 1, "speedFactor": 60})
    assert response.status_code == 403
    assert "prod" in response.get_data(as_text=True)
