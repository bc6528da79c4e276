"""At-least-once conditions from the emulator alone (no proxies): each pipeline shape stays exact
with duplicates, reordering, early redelivery, failed pushes and delays turned on in our Pub/Sub
emulator (its admin API, as `etl emulators faults` does); and the command itself.

Google's emulator has no admin API: these tests skip there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from etl.adapters.pubsub import Outgoing
from etl_harness.faults import Faults
from etl_harness.inspector.admin import AdminApi
from etl_harness.serve import triggers
from tests.e2e.cli import etl
from tests.e2e.faults import ROOT, Rig, simulation

AT_LEAST_ONCE = Faults(duplicate=0.2, shuffle=True, early_redelivery=0.1, seed=15)
"""What every consumer of Pub/Sub must survive, on every delivery path."""
PUSH_FAILURES = Faults(duplicate=0.2, shuffle=True, early_redelivery=0.1, push_error=0.2, seed=15)
"""The same, and push answers turned into failures after the function ran."""
DELAYS = Faults(delay_ms=(0, 400), delay_fraction=0.3, seed=15)
"""Slow deliveries: messages overtaken by later ones for up to 0.4 s."""
FIRED_BY = {"duplicate": "duplicate", "delay_fraction": "delay", "shuffle": "shuffle",
            "push_error": "push_error", "early_redelivery": "early_redelivery"}  # fmt: skip


@pytest.fixture
def admin(etl_pubsub_faults: AdminApi) -> AdminApi:
    return etl_pubsub_faults


def subscriptions_of(rig: Rig, pipeline: str) -> dict[str, str]:
    """The subscription paths a shape consumes, each with its topic, as etl.toml declares them."""
    from etl_harness import provision

    settings = rig.settings
    resources = provision.load().resources(settings.stage, settings.project)
    if pipeline == "worker":
        subs = [resources.subscription(settings.subscription("worker"))]
    else:
        subs = triggers(resources, pipeline)
    return {f"projects/{settings.project}/subscriptions/{s.name}": s.topic for s in subs}


def fired(status: Mapping[str, Any], faults: Faults) -> dict[str, int]:
    """The counts of the faults that are on in `faults`, from an admin API status."""
    on = {key for key, value in faults.as_json().items() if key in FIRED_BY and value}
    return {FIRED_BY[key]: int(status["fired"][FIRED_BY[key]]) for key in on}


@pytest.mark.parametrize(
    ("pipeline", "faults", "args"),
    [
        pytest.param("current", PUSH_FAILURES, (), id="current-push-failures"),
        pytest.param("fanout", PUSH_FAILURES, (), id="fanout-push-failures"),
        pytest.param("worker", AT_LEAST_ONCE, ("--pull", "streaming"), id="worker-streaming"),
        pytest.param("worker", AT_LEAST_ONCE, ("--pull", "batch"), id="worker-batch"),
        pytest.param("current", DELAYS, (), id="current-delays"),
        pytest.param("fanout", DELAYS, (), id="fanout-delays"),
        pytest.param("worker", DELAYS, ("--pull", "streaming"), id="worker-delays"),
    ],
)
def test_each_shape_stays_exact_under_faults_the_emulator_injects(
    pipeline: str, faults: Faults, args: tuple[str, ...], rig: Rig, admin: AdminApi
) -> None:
    sim = simulation(limit=120, seed=15)
    hourly = pipeline != "current"
    paths = subscriptions_of(rig, pipeline)
    for path in paths:  # before the worker's first Pull, which may be waiting when we publish
        admin.set_faults(path, faults.as_json())
    with rig.served(pipeline, *args):
        for path in paths:  # again: serving a push shape rewrites its subscriptions
            admin.set_faults(path, faults.as_json())
        # No ordering keys: shuffle and delays may then move any message past any other.
        rig.bus.publish(rig.settings.events_topic, (Outgoing(e.to_json()) for e in sim.events))
        rig.wait_settled(sim.events, hourly=hourly)

    rig.assert_exact(sim.events, hourly=hourly)
    for path, topic in paths.items():
        counts = fired(admin.subscription_faults(path), faults)
        if args == ("--pull", "batch"):
            # A batch is acked before the next pull: an early end of its lease never comes.
            counts.pop("early_redelivery")
        if topic != rig.settings.events_topic and "shuffle" in counts:
            # The fan-out republishes with the service as ordering key, and shuffle keeps each
            # key's order: it reorders across keys and defers (counts) nothing.
            counts.pop("shuffle")
        assert counts, f"no fault was on for {path}"
        assert all(n > 0 for n in counts.values()), f"{path}: faults that never fired: {counts}"


# --- `etl emulators faults` ---


def etl_faults(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": rig.settings.project, "ETL_STAGE": "test"}
    return etl("emulators", "faults", *args, env=env, timeout=60)


def test_the_command_sets_shows_lists_and_turns_off_a_subscriptions_faults(
    rig: Rig, admin: AdminApi
) -> None:
    sub = rig.settings.subscription("worker")
    path = f"projects/{rig.settings.project}/subscriptions/{sub}"

    set_ = etl_faults(
        rig, sub, "--duplicate", "0.5", "--delay-ms", "10,20", "--seed", "3", "--json"
    )
    assert set_.returncode == 0, set_.stderr
    status = json.loads(set_.stdout)
    assert status["subscription"] == path
    assert status["faults"] == {"duplicate": 0.5, "delay_ms": [10, 20], "delay_fraction": 1,
                                "shuffle": False, "push_error": 0, "early_redelivery": 0,
                                "transient_ack_failure": 0, "seed": 3}  # fmt: skip
    assert admin.subscription_faults(path)["faults"] == status["faults"]

    shown = etl_faults(rig, sub)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{sub}\tduplicate=0.5 delay=10-20ms@1 seed=3\tfired ")

    listed = etl_faults(rig, "--json")
    assert [s["subscription"] for s in json.loads(listed.stdout)["faults"]] == [path]

    off = etl_faults(rig, sub, "--off", "--json")
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["faults"] is None
    assert etl_faults(rig, sub).stdout.startswith(f"{sub}\toff\t")


def test_the_command_exits_1_with_the_emulators_reason_when_it_refuses(
    rig: Rig, admin: AdminApi
) -> None:
    del admin
    result = etl_faults(rig, "no-such-subscription", "--shuffle")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the emulator refused: no subscription projects/")
    assert line.endswith("/subscriptions/no-such-subscription")


# --- the manual's example (docs/harness.md), as a user copies it ---


def readme_example() -> str:
    """The Python block of the manual's "Testing your consumer under at-least-once delivery"."""
    text = (ROOT / "docs" / "harness.md").read_text()
    section = text.split("## Testing your consumer under at-least-once delivery", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_of_a_consumer_under_faults_passes(
    etl_pubsub_faults: AdminApi, tmp_path: Path
) -> None:
    del etl_pubsub_faults  # skips where the emulators have no admin API
    (tmp_path / "test_my_consumer.py").write_text(readme_example())
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ),  # the session's emulator hosts: the plugin reuses them
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
