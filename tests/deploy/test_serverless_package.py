"""`serverless package` for dev, test and prod, checked resource by resource.

These are the Deployment Manager templates `sls deploy` submits (see docs/deployment/index.md); the
functions are checked against the registry (`etl.pipeline`), whose every function main.py serves
(tests/unit/etl/test_pipeline.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from etl.pipeline import HTTP_FUNCTIONS, manifest
from tests.deploy.templates import PROJECT, REPO, STAGES, Packaged

FUNCTION_TYPE = "gcp-types/cloudfunctions-v1:projects.locations.functions"
INSTANCE_TYPE = "gcp-types/bigtableadmin-v2:projects.instances"
TABLE_TYPE = "gcp-types/bigtableadmin-v2:projects.instances.tables"
TOPIC_TYPES = ("gcp-types/pubsub-v1:projects.topics", "pubsub.v1.topic")
PUBSUB_PUBLISH = "google.pubsub.topic.publish"


def expected_functions(stage: str) -> dict[str, str | None]:
    """Entry point -> the topic it is triggered by (None: HTTP) of every function the stage must
    have, and nothing else: the registry's (`etl.pipeline`)."""
    m = manifest(stage, PROJECT)
    functions: dict[str, str | None] = {f["name"]: f["trigger_topic"] for f in m["functions"]}
    functions.update({h["name"]: None for h in m["http_functions"] if stage in h["stages"]})
    return functions


def by_entry_point(stage: Packaged) -> dict[str, dict[str, Any]]:
    """The stage's Cloud Functions by entry point (each is deployed once)."""
    functions = stage.functions()
    entries = [props["entryPoint"] for props in functions.values()]
    assert len(entries) == len(set(entries)), entries
    return {props["entryPoint"]: props for props in functions.values()}


@pytest.fixture(params=STAGES)
def stage(request: pytest.FixtureRequest, packaged: dict[str, Packaged]) -> Packaged:
    return packaged[request.param]


def test_create_template_holds_only_the_stage_deployment_bucket(stage: Packaged) -> None:
    (bucket,) = stage.create["resources"]
    assert bucket["type"] == "storage.v1.bucket"
    assert bucket["name"].startswith(f"sls-etlservice-{stage.stage}-")
    assert bucket["properties"]["location"] == "us-central1"


def test_each_stage_has_its_own_events_written_and_dead_letter_topics(stage: Packaged) -> None:
    topics = [r for r in stage.update["resources"] if r["type"] in TOPIC_TYPES]
    names = {r["properties"]["topic"] for r in topics}
    assert names == {f"acceso-{kind}-{stage.stage}" for kind in ("events", "written", "deadletter")}


def test_each_stage_has_exactly_its_functions_named_with_the_stage(stage: Packaged) -> None:
    functions = by_entry_point(stage)
    assert set(functions) == set(expected_functions(stage.stage))
    for entry_point, props in functions.items():
        assert props["function"].startswith(f"etlservice-{stage.stage}-"), entry_point
        assert props["runtime"] == "python312"
        assert props["parent"] == f"projects/{PROJECT}/locations/us-central1"
        assert props["sourceArchiveUrl"].endswith("/etlservice.zip")


def test_prod_template_has_no_simulator_at_all(packaged: dict[str, Packaged]) -> None:
    prod = packaged["prod"]
    assert not any("simulate" in name.lower() for name in prod.functions())
    assert "simulate_acceso_data" not in prod.update_text
    assert all("httpsTrigger" not in props for props in prod.functions().values())


@pytest.mark.parametrize(
    ("name", "entry_point"),
    [(stage, h.name) for h in HTTP_FUNCTIONS for stage in h.stages],
)
def test_http_functions_are_http_triggered_in_their_stages(
    packaged: dict[str, Packaged], name: str, entry_point: str
) -> None:
    function = by_entry_point(packaged[name])[entry_point]
    assert "httpsTrigger" in function
    assert "eventTrigger" not in function


def test_nothing_grants_public_invocation(stage: Packaged) -> None:
    assert "allUsers" not in stage.update_text
    assert "allAuthenticatedUsers" not in stage.update_text
    iam_like = [
        r
        for r in stage.update["resources"]
        if "iam" in r["type"].lower()
        or "accessControl" in r
        or "accessControl" in r.get("properties", {})
    ]
    assert iam_like == []


def test_event_functions_subscribe_to_their_stage_topic_declared_in_the_same_template(
    stage: Packaged,
) -> None:
    declared = {
        r["properties"]["topic"] for r in stage.update["resources"] if r["type"] in TOPIC_TYPES
    }
    functions = by_entry_point(stage)
    for entry_point, topic in expected_functions(stage.stage).items():
        if topic is None:
            continue
        trigger = functions[entry_point]["eventTrigger"]
        assert trigger["eventType"] == PUBSUB_PUBLISH
        assert trigger["resource"] == f"projects/{PROJECT}/topics/{topic}"
        assert topic in declared


def test_every_function_is_told_its_project_stage_and_instance(stage: Packaged) -> None:
    for properties in stage.functions().values():
        assert properties["environmentVariables"] == {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "ETL_STAGE": stage.stage,
            "BIGTABLE_INSTANCE": "iotincoming",
        }
        assert properties["labels"] == {"service": "etlservice", "stage": stage.stage}


def test_stage_table_lives_in_the_shared_iotincoming_instance(stage: Packaged) -> None:
    (instance,) = stage.resources(INSTANCE_TYPE)
    (table,) = stage.resources(TABLE_TYPE)
    assert instance["properties"]["parent"] == f"projects/{PROJECT}"
    assert instance["properties"]["instanceId"] == "iotincoming"
    assert table["properties"]["tableId"] == f"incomingraw_{stage.stage}"


def test_table_is_created_only_after_its_instance(stage: Packaged) -> None:
    """The original design's race: the table creation hit 404 "Instance ... not found" on a new
    stage."""
    (instance,) = stage.resources(INSTANCE_TYPE)
    (table,) = stage.resources(TABLE_TYPE)
    assert instance["name"] in table["metadata"]["dependsOn"]
    assert table["properties"]["parent"] == f"$(ref.{instance['name']}.name)"


def test_table_keeps_one_version_in_each_of_its_two_families(stage: Packaged) -> None:
    (table,) = stage.resources(TABLE_TYPE)
    families = table["properties"]["table"]["columnFamilies"]
    assert families == {
        "event": {"gcRule": {"maxNumVersions": 1}},
        "realTimeStatus": {"gcRule": {"maxNumVersions": 1}},
    }


def test_only_the_prod_table_is_protected_against_deletion(stage: Packaged) -> None:
    (table,) = stage.resources(TABLE_TYPE)
    assert table["properties"]["table"]["deletionProtection"] is (stage.stage == "prod")


def test_zip_holds_the_code_cloud_functions_runs_and_nothing_else(stage: Packaged) -> None:
    assert {"main.py", "requirements.txt"} <= stage.zip_names
    top_level = {name.split("/", 1)[0] for name in stage.zip_names}
    assert top_level <= {"main.py", "requirements.txt", "etl", "etl_core"}
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in stage.zip_names)


def test_remove_of_prod_is_refused_without_confirmation(run_serverless: Any) -> None:
    done = run_serverless("remove", "--stage", "prod", "--project", PROJECT)
    assert done.returncode != 0
    assert (
        'Refusing to remove the prod stage of project "local-project"' in done.stdout + done.stderr
    )
    assert "ETL_ALLOW_PROD_REMOVE=local-project" in done.stdout + done.stderr


def test_remove_of_prod_is_refused_when_confirmation_names_another_project(
    run_serverless: Any,
) -> None:
    done = run_serverless(
        "remove", "--stage", "prod", "--project", PROJECT, ETL_ALLOW_PROD_REMOVE="other"
    )
    assert done.returncode != 0
    assert "Refusing to remove the prod stage" in done.stdout + done.stderr


def test_unknown_stage_is_refused_before_anything_is_packaged(run_serverless: Any) -> None:
    done = run_serverless("package", "--stage", "staging", "--project", PROJECT)
    assert done.returncode != 0
    assert 'Unknown stage "staging"' in done.stdout + done.stderr


def test_region_option_moves_every_function_and_the_bucket(
    run_serverless: Any, service_dir: Path
) -> None:
    done = run_serverless(
        "package", "--stage", "dev", "--project", PROJECT, "--region", "europe-west1"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = service_dir / ".serverless"
    try:
        create = yaml.safe_load((output / "configuration-template-create.yml").read_text())
        update = yaml.safe_load((output / "configuration-template-update.yml").read_text())
    finally:
        shutil.rmtree(output)
    parents = {r["properties"]["parent"] for r in update["resources"] if r["type"] == FUNCTION_TYPE}
    assert parents == {f"projects/{PROJECT}/locations/europe-west1"}
    assert create["resources"][0]["properties"]["location"] == "europe-west1"


def test_deployed_topics_table_and_triggers_are_the_ones_etl_toml_seeds_locally(
    stage: Packaged,
) -> None:
    """What runs in the emulators is what gets deployed: names, families and GC rules."""
    from etl_harness import etl_toml

    local = etl_toml.load(REPO / "etl.toml").resources(stage.stage, PROJECT)
    topics = {
        r["properties"]["topic"] for r in stage.update["resources"] if r["type"] in TOPIC_TYPES
    }
    assert topics == set(local.topics)
    (table,) = stage.resources(TABLE_TYPE)
    (seeded,) = local.tables
    assert table["properties"]["tableId"] == seeded.name
    families = table["properties"]["table"]["columnFamilies"]
    assert families == {
        name: {"gcRule": {"maxNumVersions": rule.max_versions}}
        for name, rule in seeded.families.items()
    }
    triggered = {sub.function: sub.topic for sub in local.subscriptions if sub.function}
    deployed = by_entry_point(stage)
    for entry_point in triggered:
        resource = deployed[entry_point]["eventTrigger"]["resource"]
        assert resource.endswith(f"/topics/{triggered[entry_point]}")
