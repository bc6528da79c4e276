"""Google's own emulators started from the installed Cloud SDK (`--etl-emulators=official`),
checked in every e2e run where the SDK is installed: started on free ports, answering, etl.toml
applied from Python, stopped afterwards."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from google.cloud import bigtable, pubsub_v1

from etl_harness import provision
from etl_harness.emulators import official, pair
from etl_harness.emulators.hosts import Emulators
from etl_harness.emulators.pair import EmulatorError
from etl_harness.local import from_env


@pytest.fixture
def sdk() -> official.Sdk:
    try:
        return official.find_sdk(os.environ.get("ETL_GCLOUD_SDK_ROOT"))
    except EmulatorError as exc:
        pytest.skip(f"no Cloud SDK with Google's emulators here (set ETL_GCLOUD_SDK_ROOT): {exc}")


def test_googles_emulators_start_answer_take_etl_toml_and_stop(
    sdk: official.Sdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    del sdk
    local = from_env(os.environ)
    with Emulators(local, "official", log_dir=tmp_path) as emu:
        hosts = emu.hosts
        assert hosts.source == "official"
        assert hosts.admin is None
        assert not emu.seeded
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv(pair.ADMIN_ENV, raising=False)
        provision.ensure_stages(emu.settings, provision.load(local))
        expected = provision.load(local).resources(
            emu.settings.stage, emu.settings.project, emu.settings.instance
        )
        publisher = pubsub_v1.PublisherClient()
        try:
            topics = {
                t.name.rsplit("/", 1)[1]
                for t in publisher.list_topics(
                    request={"project": f"projects/{emu.settings.project}"}
                )
            }
        finally:
            publisher.stop()
        client = bigtable.Client(project=emu.settings.project, admin=True)
        try:
            tables = {t.table_id for t in client.instance(emu.settings.instance).list_tables()}
        finally:
            client.close()
        logs = sorted(path.name for path in tmp_path.iterdir())
    assert set(expected.topics) <= topics
    assert {table.name for table in expected.tables} <= tables
    assert any(name.startswith("official-pubsub-") for name in logs)
    assert any(name.startswith("official-bigtable-") for name in logs)
    for address in (hosts.pubsub, hosts.bigtable):
        host, port = address.rsplit(":", 1)
        with pytest.raises(ConnectionRefusedError):  # stopped: nothing listens there any more
            socket.create_connection((host, int(port)), timeout=2).close()


def test_a_missing_sdk_is_an_error_saying_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="google-cloud-cli-pubsub-emulator"):
        official.find_sdk(str(tmp_path))
