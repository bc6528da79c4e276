"""The testcontainers path leaves nothing behind: Ryuk on unless turned off (its image present
or one clear error), and containers whose owner no longer runs removed at the next start."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_harness.emulators import native
from etl_harness.emulators.containers import (
    OWNER_LABEL,
    docker_client,
    ensure_reaper,
    owner_alive,
    owner_label,
    sweep_orphans,
)
from etl_harness.emulators.pair import EmulatorError


def finished_pid() -> int:
    """The pid of a process that has already exited."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_this_process_owns_what_it_labels() -> None:
    assert owner_alive(owner_label())


def test_an_exited_owner_is_gone() -> None:
    assert not owner_alive(f"{finished_pid()}:1700000000.0")


def test_the_same_pid_started_at_another_time_is_another_process() -> None:
    pid, _, started = owner_label().partition(":")
    found = native.identity(int(pid))
    assert found is not None
    assert found[1] == float(started)
    assert not owner_alive(f"{pid}:{float(started) - 5.0!r}")


@given(st.text(max_size=30).filter(lambda t: re.fullmatch(r"[0-9]+:[0-9]+\.[0-9]+", t) is None))
def test_a_value_it_did_not_write_is_left_alone(value: str) -> None:
    assert owner_alive(value)


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    removed: bool = False

    def remove(self, force: bool) -> None:
        assert force
        self.removed = True


@dataclass
class FakeContainers:
    items: list[FakeContainer]
    filters: list[Any] = field(default_factory=list)

    def list(self, all: bool, filters: dict[str, str]) -> list[FakeContainer]:
        assert all
        self.filters.append(filters)
        return [c for c in self.items if filters["label"] in c.labels]


@dataclass
class FakeImages:
    present: set[str]
    pullable: bool
    pulled: list[str] = field(default_factory=list)

    def get(self, name: str) -> object:
        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return object()

    def pull(self, name: str) -> object:
        self.pulled.append(name)
        if not self.pullable:
            raise docker.errors.APIError("pull access denied", explanation="no registry here")
        return object()


@dataclass
class FakeClient:
    containers: FakeContainers = field(default_factory=lambda: FakeContainers([]))
    images: FakeImages = field(default_factory=lambda: FakeImages(set(), pullable=True))


@dataclass
class Config:
    ryuk_disabled: bool
    ryuk_image: str = "testcontainers/ryuk:0.8.1"


def test_the_sweep_removes_only_containers_whose_owner_is_gone() -> None:
    orphan = FakeContainer("orphan", {OWNER_LABEL: f"{finished_pid()}:1.0"})
    live = FakeContainer("live", {OWNER_LABEL: owner_label()})
    foreign = FakeContainer("foreign", {OWNER_LABEL: "not-ours"})
    client = FakeClient(FakeContainers([orphan, live, foreign]))
    assert sweep_orphans(client) == ["orphan"]
    assert (orphan.removed, live.removed, foreign.removed) == (True, False, False)
    assert client.containers.filters == [{"label": OWNER_LABEL}]


def test_with_the_reaper_off_no_image_is_needed() -> None:
    client = FakeClient(images=FakeImages(set(), pullable=False))
    ensure_reaper(client, Config(ryuk_disabled=True))
    assert client.images.pulled == []


def test_the_reaper_image_is_pulled_when_missing() -> None:
    client = FakeClient(images=FakeImages(set(), pullable=True))
    ensure_reaper(client, Config(ryuk_disabled=False))
    assert client.images.pulled == ["testcontainers/ryuk:0.8.1"]


def test_a_present_reaper_image_is_not_pulled() -> None:
    client = FakeClient(images=FakeImages({"testcontainers/ryuk:0.8.1"}, pullable=False))
    ensure_reaper(client, Config(ryuk_disabled=False))
    assert client.images.pulled == []


def test_an_unpullable_reaper_image_says_how_out_in_one_error() -> None:
    client = FakeClient(images=FakeImages(set(), pullable=False))
    with pytest.raises(EmulatorError) as raised:
        ensure_reaper(client, Config(ryuk_disabled=False))
    message = str(raised.value)
    assert "testcontainers/ryuk:0.8.1" in message
    assert "no registry here" in message
    assert "TESTCONTAINERS_RYUK_DISABLED=true" in message
    assert "RYUK_CONTAINER_IMAGE" in message
    assert "\n" not in message


def test_a_process_that_is_not_running_cannot_label() -> None:
    with pytest.raises(EmulatorError):
        owner_label(finished_pid())


def test_no_daemon_is_one_error_and_no_open_socket(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker-py leaves a failed connect's socket open (docker/docker-py#3356); under
    `-W error` that surfaced as a ResourceWarning in a later test's teardown."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-daemon.sock'}")
    with pytest.raises(EmulatorError, match="no Docker daemon answers"), docker_client():
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        gc.collect()
