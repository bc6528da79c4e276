"""`--etl-emulators=docker` leaves nothing behind: a killed run's containers are removed at the
next start, and Ryuk is on unless turned off (here its image cannot be pulled: one clear error,
nothing started). Needs a Docker daemon and our images (`docker compose build`): CI's compose
pass has both; elsewhere these skip with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from etl_harness.emulators.containers import OWNER_LABEL, docker_client, emulator_containers
from etl_harness.emulators.pair import EmulatorError
from etl_harness.local import from_env

pytestmark = pytest.mark.xdist_group("docker")


@pytest.fixture
def client() -> Iterator[Any]:
    pytest.importorskip("docker")
    try:
        with docker_client() as found:
            missing = _missing_images(found)
            if missing:
                pytest.skip(f"{missing} not built (`docker compose build`)")
            yield found
    except EmulatorError as exc:
        pytest.skip(str(exc))


def _missing_images(client: Any) -> str | None:
    import docker.errors

    local = from_env(os.environ)
    for image in (local.pubsub_image, local.bigtable_image):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            return image
    return None


def ours(client: Any) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": OWNER_LABEL}))


def dead_owner() -> str:
    code = "import os, psutil; print(f'{os.getpid()}:{psutil.Process().create_time()!r}')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_killed_runs_containers_go_at_the_next_start(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testcontainers.core.config import testcontainers_config

    local = from_env(os.environ)
    orphan = client.containers.run(
        local.pubsub_image, "--host=0.0.0.0", labels={OWNER_LABEL: dead_owner()}, detach=True
    )
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    with emulator_containers(local) as hosts:
        assert hosts.source == "docker"
        names = {c.name for c in ours(client)}
        assert orphan.name not in names, "the orphan was swept before the start"
        assert len(names) == 2, names
    assert ours(client) == [], "a clean exit removes its own"


def test_with_ryuk_on_its_image_must_be_there_or_nothing_starts(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", False)
    monkeypatch.setattr(testcontainers_config, "ryuk_image", "etl-pipeline/no-such-reaper:0")
    with pytest.raises(EmulatorError) as raised, emulator_containers(from_env(os.environ)):
        pass
    assert "TESTCONTAINERS_RYUK_DISABLED=true" in str(raised.value)
    assert ours(client) == []
