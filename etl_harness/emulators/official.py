"""Google's own emulators, started natively from the installed Cloud SDK: the reference our
emulators are checked against (`--etl-emulators=official` in the pytest plugin).

The SDK is `ETL_GCLOUD_SDK_ROOT` (`Local.gcloud_sdk_root`), else what
`gcloud info --format='value(installation.sdk_root)'` prints. Under it:

- `platform/pubsub-emulator/bin/cloud-pubsub-emulator --host=H --port=N`: the Java Pub/Sub
  emulator (Debian package `google-cloud-cli-pubsub-emulator`; it needs Java);
- `platform/bigtable-emulator/cbtemulator -host H -port N` (`google-cloud-cli-bigtable-emulator`).

Neither takes a seed file, so etl.toml is applied from Python (`etl_harness.provision`) once both
answer a real RPC. Neither has our admin API.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from etl_harness.emulators import native
from etl_harness.emulators.pair import BIGTABLE, PUBSUB, EmulatorError, Kind, Running

PUBSUB_RELATIVE = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
BIGTABLE_RELATIVE = Path("platform/bigtable-emulator/cbtemulator")
READY_TIMEOUT = 60.0
"""The Java emulator needs ~1.3 s alone; on two shared cores under load, much more."""


@dataclass(frozen=True, slots=True)
class Sdk:
    """The two official emulator executables of one Cloud SDK."""

    root: Path

    @property
    def pubsub(self) -> Path:
        return self.root / PUBSUB_RELATIVE

    @property
    def bigtable(self) -> Path:
        return self.root / BIGTABLE_RELATIVE

    def argv(self, kind: Kind, host: str, port: int) -> list[str]:
        if kind is PUBSUB:
            return [str(self.pubsub), f"--host={host}", f"--port={port}"]
        return [str(self.bigtable), "-host", host, "-port", str(port)]

    def missing(self) -> list[str]:
        return [str(path) for path in (self.pubsub, self.bigtable) if not path.is_file()]


def sdk_root(explicit: str | None = None) -> Path:
    """`explicit` (`ETL_GCLOUD_SDK_ROOT`), else the root `gcloud info` reports."""
    if explicit:
        return Path(explicit)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorError(
            "Google's emulators: gcloud is not on PATH; install the Cloud SDK with the packages "
            "google-cloud-cli-pubsub-emulator and google-cloud-cli-bigtable-emulator, or set "
            "ETL_GCLOUD_SDK_ROOT"
        )
    try:
        found = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as exc:
        raise EmulatorError(f"`gcloud info` did not give the SDK root: {exc}") from exc
    if not found:
        raise EmulatorError("`gcloud info` printed no SDK root: set ETL_GCLOUD_SDK_ROOT")
    return Path(found)


def find_sdk(explicit: str | None = None) -> Sdk:
    """The SDK holding both emulators, or an `EmulatorError` naming what is missing."""
    sdk = Sdk(sdk_root(explicit))
    if missing := sdk.missing():
        raise EmulatorError(
            f"Google's emulators are not installed under {sdk.root} (missing: "
            f"{', '.join(missing)}): apt-get install google-cloud-cli-pubsub-emulator "
            "google-cloud-cli-bigtable-emulator, or set ETL_GCLOUD_SDK_ROOT"
        )
    return sdk


def start(
    sdk: Sdk, kind: Kind, *, host: str, port: int, log_dir: Path, timeout: float = READY_TIMEOUT
) -> Running:
    """One official emulator in its own session; returns once it answers a real RPC."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"official-{kind.name}-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            sdk.argv(kind, host, port),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    native.adopt(proc)
    running = Running(kind.name, proc.pid, host, port, str(log))
    try:
        native.wait_ready(kind, running.address, alive=lambda: proc.poll() is None, timeout=timeout)
    except EmulatorError as exc:
        native.stop(running)
        raise EmulatorError(f"Google's {exc} (log: {log})") from exc
    return running


@contextlib.contextmanager
def running_pair(sdk: Sdk, log_dir: Path, host: str = "127.0.0.1") -> Iterator[list[Running]]:
    """Google's two emulators on free ports for a `with` block, stopped after it. Empty: etl.toml
    is applied by the caller (`Emulators` does it)."""
    started: list[Running] = []
    try:
        for kind in (PUBSUB, BIGTABLE):
            port = native.free_port(host)
            started.append(start(sdk, kind, host=host, port=port, log_dir=log_dir))
        yield started
    finally:
        for running in started:
            native.stop(running)
