"""deploy/stage-guard.js: the Deployment Manager requests `sls remove` and `sls deploy` make.

The guard runs in Node against a recording fake of the provider (tests/deploy/guard_harness.js);
the deployment it "finds" is the dev or prod template `serverless package` really produced.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import yaml

from tests.deploy.templates import PROJECT, REPO, Packaged

HARNESS = REPO / "tests" / "deploy" / "guard_harness.js"
GUARD = REPO / "deploy" / "stage-guard.js"
BIGTABLE_NAMES = {"bigtable-instance", "bigtable-table"}


def run_guard(node: str, **scenario: Any) -> dict[str, Any]:
    scenario.setdefault("project", PROJECT)
    done = subprocess.run(
        [node, str(HARNESS), str(GUARD)],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def update_request(stage: str, config_text: str) -> dict[str, Any]:
    """The params the provider passes to `deployments.update` for this config."""
    deployment = f"sls-etlservice-{stage}"
    target = {"config": {"content": config_text}}
    return {"deployment": deployment, "resource": {"name": deployment, "target": target}}


def calls(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(service, resource, method) for service, resource, method, _ in result["requests"]]


def released_config(result: dict[str, Any]) -> dict[str, Any]:
    (update,) = [p for _, r, m, p in result["requests"] if (r, m) == ("deployments", "update")]
    assert update["deletePolicy"] == "ABANDON"
    config: dict[str, Any] = yaml.safe_load(update["resource"]["target"]["config"]["content"])
    return config


def test_prod_remove_without_confirmation_makes_no_request(
    node: str, packaged: dict[str, Packaged]
) -> None:
    result = run_guard(node, stage="prod", action="remove", manifest=packaged["prod"].update_text)
    assert result["error"]["code"] == "ETL_PROD_REMOVE_REFUSED"
    assert result["requests"] == []


def test_confirmed_prod_remove_abandons_bigtable_before_deleting_the_rest(
    node: str, packaged: dict[str, Packaged]
) -> None:
    prod = packaged["prod"]
    result = run_guard(
        node,
        stage="prod",
        action="remove",
        env={"ETL_ALLOW_PROD_REMOVE": PROJECT},
        manifest=prod.update_text,
    )
    assert result["error"] is None
    assert calls(result) == [
        ("deploymentmanager", "deployments", "get"),
        ("deploymentmanager", "manifests", "get"),
        ("deploymentmanager", "deployments", "update"),
        ("deploymentmanager", "deployments", "get"),
        ("deploymentmanager", "deployments", "delete"),
    ]
    kept = {r["name"] for r in released_config(result)["resources"]}
    assert kept == {r["name"] for r in prod.update["resources"]} - BIGTABLE_NAMES
    delete_params = result["requests"][-1][3]
    assert "deletePolicy" not in delete_params


def test_dev_remove_needs_no_confirmation_and_still_keeps_bigtable(
    node: str, packaged: dict[str, Packaged]
) -> None:
    result = run_guard(node, stage="dev", action="remove", manifest=packaged["dev"].update_text)
    assert result["error"] is None
    kept = {r["name"] for r in released_config(result)["resources"]}
    assert not kept & BIGTABLE_NAMES
    assert "etlservice-dev-simulateAccesoData" in kept


def test_remove_of_a_stage_never_deployed_goes_straight_to_delete(node: str) -> None:
    result = run_guard(node, stage="test", action="remove", manifest=None)
    assert result["error"] is None
    assert calls(result) == [
        ("deploymentmanager", "deployments", "get"),
        ("deploymentmanager", "deployments", "delete"),
    ]


def test_prod_update_always_abandons_what_it_drops(
    node: str, packaged: dict[str, Packaged]
) -> None:
    update = update_request("prod", packaged["prod"].update_text)
    result = run_guard(
        node, stage="prod", action="update", manifest=packaged["prod"].update_text, update=update
    )
    assert result["error"] is None
    assert result["requests"][-1][3]["deletePolicy"] == "ABANDON"


def test_dev_update_keeping_the_table_uses_the_default_policy(
    node: str, packaged: dict[str, Packaged]
) -> None:
    text = packaged["dev"].update_text
    update = update_request("dev", text)
    result = run_guard(node, stage="dev", action="update", manifest=text, update=update)
    assert result["error"] is None
    assert "deletePolicy" not in result["requests"][-1][3]


def test_dev_update_that_drops_the_table_abandons_instead_of_deleting(
    node: str, packaged: dict[str, Packaged]
) -> None:
    current = packaged["dev"].update
    without_table = {
        **current,
        "resources": [r for r in current["resources"] if r["name"] != "bigtable-table"],
    }
    update = update_request("dev", yaml.safe_dump(without_table))
    result = run_guard(
        node, stage="dev", action="update", manifest=packaged["dev"].update_text, update=update
    )
    assert result["error"] is None
    assert result["requests"][-1][3]["deletePolicy"] == "ABANDON"


def test_unknown_stage_is_refused_before_any_request(node: str) -> None:
    result = run_guard(node, stage="staging", action="remove", manifest=None)
    assert result["error"]["code"] == "ETL_UNKNOWN_STAGE"
    assert result["requests"] == []
