"""The harness around the emulators: seeding from etl.toml, `reset --all` and its fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import pytest
from google.cloud import bigtable

from etl.adapters.bigtable import EventTable, ResetRefused
from etl.adapters.pubsub import Outgoing, PubSub
from etl.config import DEFAULT_PROJECT, Settings
from etl_core import Event
from etl_harness import provision
from etl_harness.emulators.pair import Hosts
from etl_harness.emulators.plugin import Seeded
from etl_harness.etl_toml import Resources
from etl_harness.local import from_env as local_from_env
from tests.e2e.cli import etl

REPO = Path(__file__).resolve().parents[2]


def listed(settings: Settings) -> dict[str, Any]:
    """Everything of the project, as the official clients list it."""
    project = f"projects/{settings.project}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    client = bigtable.Client(project=settings.project, admin=True)
    try:
        subs = {
            s.name.rsplit("/", 1)[1]: s
            for s in subscriber.list_subscriptions(request={"project": project})
        }
        topics = {
            t.name.rsplit("/", 1)[1] for t in publisher.list_topics(request={"project": project})
        }
        tables = {
            t.table_id: t.list_column_families()
            for t in client.instance(settings.instance).list_tables()
        }
    finally:
        publisher.stop()
        subscriber.close()
        client.close()
    return {"topics": topics, "subscriptions": subs, "tables": tables}


def expected(settings: Settings, stages: tuple[str, ...]) -> Resources:
    """All etl.toml's resources of `stages`, merged into one `Resources`."""
    loaded = provision.load()
    parts = [loaded.resources(stage, settings.project, settings.instance) for stage in stages]
    return replace(
        parts[0],
        topics=tuple(t for p in parts for t in p.topics),
        subscriptions=tuple(s for p in parts for s in p.subscriptions),
        tables=tuple(t for p in parts for t in p.tables),
    )


def assert_holds_exactly(settings: Settings, want: Resources) -> None:
    """The project holds exactly `want`, with each subscription's settings as declared."""
    got = listed(settings)
    assert got["topics"] == set(want.topics)
    assert set(got["subscriptions"]) == {s.name for s in want.subscriptions}
    for spec in want.subscriptions:
        sub = got["subscriptions"][spec.name]
        assert sub.topic.endswith(f"/topics/{spec.topic}")
        assert sub.ack_deadline_seconds == spec.ack_deadline_seconds
        assert sub.enable_message_ordering == spec.ordering
        assert sub.push_config.push_endpoint == (spec.push_endpoint or "")
        if spec.dead_letter:
            policy = sub.dead_letter_policy
            assert policy.dead_letter_topic.endswith(f"/topics/{spec.dead_letter.topic}")
            assert policy.max_delivery_attempts == spec.dead_letter.max_delivery_attempts
        else:
            assert not sub.dead_letter_policy.dead_letter_topic
        if spec.retry:
            backoff = sub.retry_policy.minimum_backoff.total_seconds()
            assert backoff == pytest.approx(spec.retry.minimum_backoff_seconds)
    assert set(got["tables"]) == {t.name for t in want.tables}
    for table in want.tables:
        assert set(got["tables"][table.name]) == set(table.families)


# --- seeding ---------------------------------------------------------------------------------


def test_emulators_come_up_holding_what_etl_toml_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh native pair seeds itself (`--seed`, as in compose) before it answers: the Go
    seeder and the Python model agree on every resource and setting."""
    from etl_harness.emulators.hosts import Emulators

    with Emulators(local_from_env(os.environ), "native", log_dir=tmp_path) as emulators:
        for name, value in emulators.env().items():
            monkeypatch.setenv(name, value)
        settings = replace(emulators.settings, project=DEFAULT_PROJECT)
        assert_holds_exactly(settings, expected(settings, provision.load().stages))


def test_ensure_is_idempotent_and_keeps_what_is_already_there(settings: Settings) -> None:
    provision.ensure(settings)
    publish(settings, [Outgoing(b"kept")])
    provision.ensure(settings)
    assert_holds_exactly(settings, expected(settings, (settings.stage,)))
    assert backlog(settings, "worker") == 1


def publish(settings: Settings, messages: list[Outgoing]) -> None:
    bus = PubSub(settings)
    try:
        bus.publish(settings.events_topic, messages)
    finally:
        bus.close()


def backlog(settings: Settings, consumer: str) -> int:
    """Messages waiting on a subscription (pulled, then handed back at once)."""
    subscriber = pubsub_v1.SubscriberClient()
    path = f"projects/{settings.project}/subscriptions/{settings.subscription(consumer)}"
    try:
        response = subscriber.pull(request={"subscription": path, "max_messages": 1000}, timeout=10)
        ack_ids = [m.ack_id for m in response.received_messages]
        if ack_ids:
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": ack_ids, "ack_deadline_seconds": 0}
            )
        return len(ack_ids)
    finally:
        subscriber.close()


# --- reset --all and the fixture -------------------------------------------------------------


def dirty(settings: Settings) -> None:
    """Backlog on every subscription, rows in the table, and resources etl.toml does not list."""
    publish(settings, [Outgoing(b'{"stale": true}')] * 5)
    bus = PubSub(settings)
    try:
        bus.ensure_topic("stray-topic")
        bus.ensure_subscription("stray-sub", "stray-topic")
    finally:
        bus.close()
    table = EventTable(settings)
    try:
        table.write_events(
            [
                Event(
                    service="stale-site",
                    event_time=datetime(2026, 1, 1, tzinfo=UTC),
                    delta=1,
                    event_id="e1",
                )
            ]
        )
    finally:
        table.close()
    client = bigtable.Client(project=settings.project, admin=True)
    try:
        client.instance(settings.instance).table("stray_table").create()
    finally:
        client.close()


def test_reset_all_brings_back_exactly_the_seeded_state_without_a_restart(
    etl_seeded_emulators: Seeded,
) -> None:
    settings = etl_seeded_emulators.settings
    dirty(settings)
    assert "stray-topic" in listed(settings)["topics"]
    report = etl_seeded_emulators.reset()
    assert report.topics >= 1
    assert report.subscriptions >= 1
    assert_holds_exactly(settings, expected(settings, provision.load().stages))
    assert backlog(settings, "worker") == 0
    table = EventTable(settings)
    try:
        assert list(table.all_rows()) == []
    finally:
        table.close()


@pytest.mark.parametrize("run", [1, 2])
def test_each_use_of_the_fixture_starts_from_the_seed(
    etl_seeded_emulators: Seeded, run: int
) -> None:
    """Whatever the first run leaves behind, the second starts clean."""
    del run
    settings = etl_seeded_emulators.settings
    assert "stray-topic" not in listed(settings)["topics"]
    assert backlog(settings, "pubsub-receiver") == 0
    dirty(settings)


def test_reset_all_is_refused_on_prod_and_off_the_emulators() -> None:
    hosts = {"pubsub_emulator_host": "h:1", "bigtable_emulator_host": "h:2"}
    with pytest.raises(ResetRefused, match="prod"):
        provision.reset_all(Settings(stage="prod", **hosts))
    with pytest.raises(ResetRefused, match="emulators only"):
        provision.reset_all(Settings(stage="dev", pubsub_emulator_host="h:1"))


# --- through the CLI -------------------------------------------------------------------------


def test_cli_reset_all_reports_what_it_deleted(etl_emulator_hosts: Hosts) -> None:
    env = {**os.environ, **etl_emulator_hosts.env(), "GOOGLE_CLOUD_PROJECT": "cli-reset-project"}
    assert etl("emulators", "seed", env=env).returncode == 0
    result = etl("reset", "--all", env=env)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert "project cli-reset-project back to etl.toml in" in said
    assert "deleted 14 subscriptions, 6 topics, 2 tables" in said


def test_cli_reset_all_refuses_prod(etl_emulator_hosts: Hosts) -> None:
    env = {**os.environ, **etl_emulator_hosts.env(), "ETL_STAGE": "prod"}
    result = etl("reset", "--all", env=env)
    assert result.returncode == 2
    assert "refused on stage prod" in result.stderr


@pytest.fixture
def bad_etl_toml(tmp_path: Path) -> Path:
    text = (
        (REPO / "etl.toml")
        .read_text()
        .replace("max_delivery_attempts = 20", "max_delivery_attempts = 2", 1)
    )
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def line_with(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_emulators_up_refuses_a_bad_etl_toml_pointing_at_its_line(
    bad_etl_toml: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env |= {"ETL_STATE_DIR": str(tmp_path / "state"), "ETL_SEED_FILE": str(bad_etl_toml)}
    result = etl("emulators", "up", env=env)
    assert result.returncode == 2
    line = line_with(bad_etl_toml, "max_delivery_attempts = 2")
    assert f"{bad_etl_toml}:{line}: pubsub.subscriptions[0]" in " ".join(result.stderr.split())
    assert "dead_letter.max_delivery_attempts must be 5-100, got 2" in result.stderr
    assert not (tmp_path / "state" / "emulators.json").exists(), "nothing was started"


@pytest.mark.parametrize("binary", ["pubsub-emulator", "bigtable-emulator"])
def test_each_emulator_refuses_a_bad_etl_toml_before_it_listens(
    bad_etl_toml: Path, binary: str
) -> None:
    """The compose path: the emulator reads the file itself and exits 2, naming the entry."""
    from etl_harness.emulators.native import find_bin_dir

    bin_dir = find_bin_dir(os.environ.get("ETL_EMULATORS_BIN"))
    assert bin_dir is not None, "run from the repository, or set ETL_EMULATORS_BIN"
    result = subprocess.run(
        [str(bin_dir / binary), "--port=0", f"--seed={bad_etl_toml}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "listening" not in result.stdout
    assert "max_delivery_attempts" in result.stderr
    assert str(bad_etl_toml) in result.stderr


def test_emulators_exec_seeds_before_it_runs_the_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env |= {"ETL_STATE_DIR": str(tmp_path)}
    script = (
        "import json, google.cloud.pubsub_v1 as p;"
        "c = p.PublisherClient();"
        "print(json.dumps(sorted(t.name for t in c.list_topics(project='projects/local-project'))))"
    )
    result = etl("emulators", "exec", "--", sys.executable, "-c", script, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    topics = json.loads(result.stdout.strip().splitlines()[-1])
    want = expected(Settings(), provision.load().stages).topics
    assert topics == sorted(f"projects/local-project/topics/{t}" for t in want)
