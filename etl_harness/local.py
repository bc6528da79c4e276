"""The harness's configuration: the pipeline's `Settings` plus where local things are.

Built once from the environment by an entry point (the CLI, the pytest plugin, a script) and
passed down; nothing else in the harness reads `os.environ`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from etl.config import InvalidConfig, Settings
from etl.config import from_env as settings_from_env

PUBSUB_IMAGE = "etl-pipeline/pubsub-emulator:local"
BIGTABLE_IMAGE = "etl-pipeline/bigtable-emulator:local"


@dataclass(frozen=True, slots=True)
class Local:
    """Everything the harness reads from the environment, read once."""

    settings: Settings
    state_dir: Path
    """Where `etl emulators up` records what it started, and their logs."""
    etl_toml: str | None = None
    """`ETL_SEED_FILE`: an etl.toml other than the one found from the working directory."""
    emulators_bin: str | None = None
    """`ETL_EMULATORS_BIN`: the folder of our emulator binaries (else `emulators/bin` found from
    the working directory upwards, else the installed emulators wheel's, else `PATH`)."""
    pubsub_image: str = PUBSUB_IMAGE
    bigtable_image: str = BIGTABLE_IMAGE
    cloud: bool = False
    """`ETL_TARGET=cloud`: the user means Google Cloud when no emulator host is set (the CLI
    refuses to reach Google otherwise, see `--cloud`)."""
    gcloud_sdk_root: str | None = None
    """`ETL_GCLOUD_SDK_ROOT`: the Cloud SDK holding Google's emulators (else `gcloud info`)."""

    def with_settings(self, settings: Settings) -> Local:
        return replace(self, settings=settings)


def from_env(environ: Mapping[str, str]) -> Local:
    """`Local` from the pipeline's variables (see `etl.config.from_env`) and `ETL_SEED_FILE`,
    `ETL_EMULATORS_BIN`, `ETL_GCLOUD_SDK_ROOT`, `ETL_STATE_DIR` (else
    `$XDG_STATE_HOME/etl-pipeline`, else `~/.local/state/etl-pipeline`), `ETL_PUBSUB_IMAGE`,
    `ETL_BIGTABLE_IMAGE` and `ETL_TARGET` (`emulators`, the default, or `cloud`)."""
    return Local(
        settings=settings_from_env(environ),
        state_dir=_state_dir(environ),
        etl_toml=environ.get("ETL_SEED_FILE") or None,
        emulators_bin=environ.get("ETL_EMULATORS_BIN") or None,
        pubsub_image=environ.get("ETL_PUBSUB_IMAGE") or PUBSUB_IMAGE,
        bigtable_image=environ.get("ETL_BIGTABLE_IMAGE") or BIGTABLE_IMAGE,
        cloud=_target(environ) == "cloud",
        gcloud_sdk_root=environ.get("ETL_GCLOUD_SDK_ROOT") or None,
    )


TARGETS = ("emulators", "cloud")


def _target(environ: Mapping[str, str]) -> str:
    target = environ.get("ETL_TARGET") or "emulators"
    if target not in TARGETS:
        raise InvalidConfig(f"ETL_TARGET must be one of {', '.join(TARGETS)}, got {target!r}")
    return target


def _state_dir(environ: Mapping[str, str]) -> Path:
    if explicit := environ.get("ETL_STATE_DIR"):
        return Path(explicit)
    base = environ.get("XDG_STATE_HOME")
    return (Path(base) if base else Path.home() / ".local" / "state") / "etl-pipeline"
