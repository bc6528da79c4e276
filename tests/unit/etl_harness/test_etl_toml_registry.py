"""etl.toml declares exactly the registry's pipeline (`etl.pipeline`): its topics, the table and
its families, and one subscription per function and consumer with the registry's delivery
settings. The repository's `etl.toml` is the packaged one (`etl_harness/etl.toml`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl import pipeline
from etl.config import STAGES
from etl_harness import etl_toml

REPO = Path(__file__).resolve().parents[3]


def expected_subscriptions(m: dict[str, Any]) -> dict[str, etl_toml.Subscription]:
    """What etl.toml must declare for the manifest `m`: name → subscription."""

    def subscription(entry: dict[str, Any], topic: str, function: str | None) -> Any:
        plain = etl_toml.Subscription(
            entry["subscription"],
            topic,
            function=function,
            ack_deadline_seconds=entry["ack_deadline_seconds"],
        )
        if "dead_letter_topic" not in entry:
            return plain
        return replace(
            plain,
            dead_letter=etl_toml.DeadLetterPolicy(
                entry["dead_letter_topic"], entry["max_delivery_attempts"]
            ),
            retry=etl_toml.RetryPolicy(
                entry["minimum_backoff_seconds"], entry["maximum_backoff_seconds"]
            ),
        )

    subs = [subscription(f, f["trigger_topic"], f["name"]) for f in m["functions"]]
    subs += [subscription(c, c["topic"], None) for c in (m["worker"], m["dead_letter_reader"])]
    return {s.name: s for s in subs}


def differences(parsed: etl_toml.EtlToml, stage: str) -> list[str]:
    """How the stage's resources in `parsed` differ from the registry's (empty: they agree)."""
    m = pipeline.manifest(stage, parsed.project)
    res = parsed.resources(stage)
    found: list[str] = []
    if set(res.topics) != set(m["topics"].values()):
        found.append(f"topics {sorted(res.topics)} != {sorted(m['topics'].values())}")
    tables = {t.name: t.families for t in res.tables}
    families = {
        name: etl_toml.GcRule(max_versions=rule["max_versions"])
        for name, rule in m["bigtable"]["families"].items()
    }
    if tables != {m["bigtable"]["table"]: families}:
        found.append(f"tables {tables} != {m['bigtable']['table']}: {families}")
    declared = {s.name: replace(s, faults=None, push_endpoint=None) for s in res.subscriptions}
    for name, want in expected_subscriptions(m).items():
        if name not in declared:
            found.append(f"subscription {name} is missing")
        elif declared[name] != want:
            found.append(f"subscription {name} is {declared[name]}, not {want}")
    found += [
        f"subscription {n} is not in the registry"
        for n in declared.keys() - expected_subscriptions(m).keys()
    ]
    return found


@pytest.fixture(scope="module")
def project_file() -> etl_toml.EtlToml:
    return etl_toml.load(REPO / "etl.toml")


def test_the_repository_s_etl_toml_is_the_packaged_one() -> None:
    assert (REPO / "etl.toml").read_bytes() == (REPO / "etl_harness" / "etl.toml").read_bytes()


@pytest.mark.parametrize("stage", STAGES)
def test_etl_toml_declares_exactly_the_registry_s_pipeline(
    project_file: etl_toml.EtlToml, stage: str
) -> None:
    assert differences(project_file, stage) == []


SETTINGS = st.sampled_from(
    [
        {"ack_deadline_seconds": 30},
        {"dead_letter": None},
        {"dead_letter": etl_toml.DeadLetterPolicy("acceso-deadletter-{stage}", 5)},
        {"retry": etl_toml.RetryPolicy(10.0, 600.0)},
        {"retry": None},
        {"topic": "acceso-written-{stage}"},
        {"function": "nothing"},
    ]
)


@given(index=st.integers(min_value=0), change=SETTINGS, stage=st.sampled_from(STAGES))
def test_a_subscription_changed_in_etl_toml_is_a_difference_that_names_it(
    project_file: etl_toml.EtlToml, index: int, change: dict[str, Any], stage: str
) -> None:
    subs = list(project_file.subscriptions)
    target = subs[index % len(subs)]
    changed = replace(target, **change)
    subs[index % len(subs)] = changed
    found = differences(replace(project_file, subscriptions=tuple(subs)), stage)
    name = target.name.format(stage=stage)
    assert (changed == target) or any(name in line for line in found), found


@given(index=st.integers(min_value=0), stage=st.sampled_from(STAGES))
def test_a_subscription_missing_from_etl_toml_is_a_difference(
    project_file: etl_toml.EtlToml, index: int, stage: str
) -> None:
    subs = list(project_file.subscriptions)
    gone = subs.pop(index % len(subs))
    found = differences(replace(project_file, subscriptions=tuple(subs)), stage)
    assert found == [f"subscription {gone.name.format(stage=stage)} is missing"]
