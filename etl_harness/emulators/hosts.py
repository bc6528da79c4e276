"""Which emulators to use, decided in one place: `Emulators`, a context manager in the spirit of
testcontainers' containers. It knows its hosts, gives `.env()` for child processes (the official
clients read the hosts from the environment only) and `.settings`, and hands out clients; the CLI,
the demo and the pytest plugin use it.

Where the emulators come from, in order:

1. `PUBSUB_EMULATOR_HOST` and `BIGTABLE_EMULATOR_HOST` already set (compose, Google's images);
2. `docker`: our images through testcontainers, for the block;
3. those `etl emulators up` recorded, if asked to reuse them and both answer;
4. otherwise a native pair on free ports, stopped when the block ends.

`official` instead starts Google's own emulators from the installed Cloud SDK (see
`etl_harness.emulators.official`) on free ports and applies etl.toml to them from Python: no
admin API, no seeding before they answer, no fault injection.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Literal

import google.cloud.pubsub_v1 as pubsub_v1
from google.cloud import bigtable

from etl.adapters.bigtable import bigtable_client
from etl.adapters.pubsub import publisher_client, subscriber_client
from etl.config import Settings
from etl_harness.emulators import native, state
from etl_harness.emulators.pair import Hosts
from etl_harness.local import Local

Mode = Literal["auto", "native", "docker", "official"]
MODES: tuple[Mode, ...] = ("auto", "native", "docker", "official")


class Emulators:
    """`with Emulators(local) as emu:` running emulators for the block (see the module doc)."""

    def __init__(
        self,
        local: Local,
        mode: Mode = "auto",
        *,
        reuse_recorded: bool = True,
        log_dir: Path | None = None,
    ) -> None:
        self.local = local
        self.mode = mode
        self.reuse_recorded = reuse_recorded
        self.log_dir = log_dir
        self._stack = contextlib.ExitStack()
        self._hosts: Hosts | None = None

    def __enter__(self) -> Emulators:
        try:
            self._hosts = self._decide()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()
        self._hosts = None

    def _decide(self) -> Hosts:
        configured = self.local.settings
        if self.mode == "auto" and configured.pubsub_emulator_host and (
            configured.bigtable_emulator_host
        ):
            return Hosts(
                configured.pubsub_emulator_host,
                configured.bigtable_emulator_host,
                "env",
                configured.pubsub_admin_host,
            )
        if self.mode == "docker":
            from etl_harness.emulators.containers import emulator_containers

            return self._stack.enter_context(emulator_containers(self.local))
        if self.mode == "official":
            return self._official()
        if self.mode == "auto" and self.reuse_recorded:
            recorded = state.recorded_healthy(self.local.state_dir)
            if recorded is not None:
                return Hosts.of(recorded, "recorded")
        log_dir = self.log_dir or Path(
            self._stack.enter_context(tempfile.TemporaryDirectory(prefix="etl-emulators-"))
        )
        pair = native.running_pair(native.launch_for(self.local), log_dir)
        return Hosts.of(self._stack.enter_context(pair), "native")

    def _official(self) -> Hosts:
        from etl_harness.emulators import official

        sdk = official.find_sdk(self.local.gcloud_sdk_root)
        log_dir = self.log_dir or Path(
            self._stack.enter_context(tempfile.TemporaryDirectory(prefix="etl-official-"))
        )
        return Hosts.of(self._stack.enter_context(official.running_pair(sdk, log_dir)), "official")

    @property
    def seeded(self) -> bool:
        """Whether etl.toml is already applied; Google's emulators take no seed file: call
        `provision.ensure_stages(emu.settings, …)` in a process whose environment holds `env()`."""
        return self.hosts.source != "official"

    @property
    def hosts(self) -> Hosts:
        if self._hosts is None:
            raise RuntimeError("use Emulators in a `with` block")
        return self._hosts

    def env(self) -> dict[str, str]:
        """The host variables, for a child process's environment."""
        env = self.hosts.env()
        if self.hosts.source == "docker":  # pushes come from containers, to the Docker host
            env["ETL_FUNCTIONS_HOST"] = "0.0.0.0"
        return env

    @property
    def settings(self) -> Settings:
        """The configured `Settings`, pointed at these emulators."""
        hosts = self.hosts
        settings = replace(
            self.local.settings,
            pubsub_emulator_host=hosts.pubsub,
            bigtable_emulator_host=hosts.bigtable,
            pubsub_admin_host=hosts.admin,
        )
        if hosts.source == "docker":
            settings = replace(settings, functions_host="0.0.0.0")
        return settings

    # Clients for a process whose environment holds `env()`: one started with it, or the pytest
    # session (its plugin exports it). The official clients read the hosts from nowhere else.

    def publisher(self) -> pubsub_v1.PublisherClient:
        return publisher_client()

    def subscriber(self) -> pubsub_v1.SubscriberClient:
        return subscriber_client()

    def bigtable(self, project: str | None = None) -> bigtable.Client:
        settings = self.settings
        return bigtable_client(replace(settings, project=project or settings.project))
