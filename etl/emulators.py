"""Start, find and stop the native Pub/Sub and Bigtable emulators (built by `emulators/build.sh`).

`up` is idempotent: emulators recorded in the state file and still answering are reused; a
default port that is taken moves to a free one. Readiness means a real RPC answered (list topics,
list tables), not merely an open port.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tenacity import Retrying, retry_if_not_exception_type, stop_after_delay, wait_fixed

from etl_core import EtlError

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "local-project"


class EmulatorError(EtlError, RuntimeError):
    """An emulator is missing, would not start, or does not answer."""


@dataclass(frozen=True, slots=True)
class Kind:
    """One emulator: its binary, default port and the env var clients read."""

    name: str
    binary: str
    default_port: int
    env_var: str
    stop_signal: signal.Signals = signal.SIGTERM

    def argv(self, binary: Path, host: str, port: int) -> list[str]:
        return [str(binary), f"--host={host}", f"--port={port}"]


_children: dict[int, subprocess.Popen[bytes]] = {}
"""Processes started by this interpreter, kept so they are waited for (no zombies, no warnings)."""

PUBSUB = Kind("pubsub", "pubsub-emulator", 8085, "PUBSUB_EMULATOR_HOST")
BIGTABLE = Kind("bigtable", "bigtable-emulator", 8086, "BIGTABLE_EMULATOR_HOST", signal.SIGINT)
"""cbtemulator exits cleanly on SIGINT only."""
KINDS = (PUBSUB, BIGTABLE)
_KINDS_BY_NAME = {kind.name: kind for kind in KINDS}


@dataclass(frozen=True, slots=True)
class Running:
    """An emulator process this module started, as recorded in the state file."""

    name: str
    pid: int
    host: str
    port: int
    log: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def bin_dir() -> Path:
    return Path(os.environ.get("ETL_EMULATORS_BIN") or REPO_ROOT / "emulators" / "bin")


def state_dir() -> Path:
    """`ETL_STATE_DIR`, else `$XDG_STATE_HOME/etl-pipeline`, else `~/.local/state/etl-pipeline`."""
    if explicit := os.environ.get("ETL_STATE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME")
    return (Path(base) if base else Path.home() / ".local" / "state") / "etl-pipeline"


def binary_path(kind: Kind) -> Path:
    path = bin_dir() / kind.binary
    if not path.is_file():
        raise EmulatorError(
            f"{path} not found: build the emulators first with `bash emulators/build.sh` "
            "(or `nox -s emulators`)."
        )
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(
    kind: Kind, *, host: str = "127.0.0.1", port: int | None = None, log_dir: Path
) -> Running:
    """Start one emulator in its own session; returns once it answers a real RPC."""
    binary = binary_path(kind)
    chosen = port if port is not None else kind.default_port
    if not port_is_free(host, chosen):
        chosen = free_port(host)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{kind.name}-{chosen}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            kind.argv(binary, host, chosen),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    running = Running(kind.name, proc.pid, host, chosen, str(log))
    try:
        wait_ready(kind, running.address, alive=lambda: proc.poll() is None)
    except EmulatorError:
        stop(running)
        raise
    return running


def wait_ready(
    kind: Kind, address: str, *, alive: Callable[[], bool], timeout: float = 20.0
) -> None:
    """Retry a real RPC until it answers; fail fast if the process died."""

    def attempt() -> None:
        if not alive():
            raise _Died
        probe(kind, address)

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.05),
        retry=retry_if_not_exception_type(_Died),
        reraise=True,
    )
    try:
        retrying(attempt)
    except _Died:
        raise EmulatorError(
            f"{kind.name} emulator exited before it was ready (see its log)"
        ) from None
    except Exception as exc:
        raise EmulatorError(
            f"{kind.name} emulator at {address} did not answer in {timeout}s: {exc}"
        ) from exc


class _Died(Exception):
    """The emulator process exited while we waited for it."""


def probe(kind: Kind, address: str, timeout: float = 2.0) -> None:
    """One real RPC against the emulator at `address`; raises if it does not answer."""
    import grpc

    with grpc.insecure_channel(address) as channel:
        if kind is PUBSUB:
            from google.pubsub_v1.types import ListTopicsRequest, ListTopicsResponse

            call = channel.unary_unary(
                "/google.pubsub.v1.Publisher/ListTopics",
                request_serializer=ListTopicsRequest.serialize,
                response_deserializer=ListTopicsResponse.deserialize,
            )
            call(ListTopicsRequest(project=f"projects/{PROJECT}"), timeout=timeout)
        else:
            from google.cloud.bigtable_admin_v2.types import (
                ListTablesRequest,
                ListTablesResponse,
            )

            call = channel.unary_unary(
                "/google.bigtable.admin.v2.BigtableTableAdmin/ListTables",
                request_serializer=ListTablesRequest.serialize,
                response_deserializer=ListTablesResponse.deserialize,
            )
            call(ListTablesRequest(parent=f"projects/{PROJECT}/instances/probe"), timeout=timeout)


def stop(running: Running, *, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; a process already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, _KINDS_BY_NAME[running.name].stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _reap(running.pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, signal.SIGKILL)
    _reap(running.pid)


def _reap(pid: int) -> bool:
    """True while `pid` still runs; collects it if it is our zombie child."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return pid_alive(pid)


# --- the state file: what `etl emulators up` started, so `down` and `status` can find it ---


def state_file() -> Path:
    return state_dir() / "emulators.json"


def load_state() -> dict[str, Running]:
    path = state_file()
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {name: Running(**entry) for name, entry in raw.items()}
    except (ValueError, TypeError):
        return {}


def save_state(state: dict[str, Running]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: asdict(r) for name, r in state.items()}, indent=2))


def healthy(kind: Kind, running: Running) -> bool:
    if not pid_alive(running.pid):
        return False
    try:
        probe(kind, running.address)
    except Exception:
        return False
    return True


def up(*, host: str = "127.0.0.1") -> dict[str, Running]:
    """Ensure both emulators run (reusing recorded healthy ones) and record them."""
    state = load_state()
    for kind in KINDS:
        current = state.get(kind.name)
        if current is not None and healthy(kind, current):
            continue
        if current is not None:
            stop(current)
        state[kind.name] = start(kind, host=host, log_dir=state_dir() / "logs")
        save_state(state)
    return state


def down() -> list[Running]:
    """Stop what `up` started; returns what was stopped."""
    state = load_state()
    for running in state.values():
        stop(running)
    with contextlib.suppress(FileNotFoundError):
        state_file().unlink()
    return list(state.values())


def env_lines(state: dict[str, Running]) -> list[str]:
    """`NAME=host:port` lines, so `export $(etl emulators up)` works."""
    return [f"{kind.env_var}={state[kind.name].address}" for kind in KINDS if kind.name in state]


@contextlib.contextmanager
def available(log_dir: Path | None = None) -> Iterator[dict[str, str]]:
    """Host variables of running emulators: configured ones, recorded ones, or a fresh pair that
    is stopped when the block ends."""
    configured = {k.env_var: os.environ[k.env_var] for k in KINDS if os.environ.get(k.env_var)}
    if len(configured) == len(KINDS):
        yield configured
        return
    recorded = load_state()
    if len(recorded) == len(KINDS) and all(healthy(k, recorded[k.name]) for k in KINDS):
        yield {k.env_var: recorded[k.name].address for k in KINDS}
        return
    with running_pair(log_dir or state_dir() / "logs") as env:
        yield env


@contextlib.contextmanager
def running_pair(log_dir: Path, host: str = "127.0.0.1") -> Iterator[dict[str, str]]:
    """Both emulators on free ports for the duration of a `with` block (tests, `etl demo`)."""
    started: list[Running] = []
    try:
        for kind in KINDS:
            started.append(start(kind, host=host, port=free_port(host), log_dir=log_dir))
        yield {kind.env_var: r.address for kind, r in zip(KINDS, started, strict=True)}
    finally:
        for running in started:
            stop(running)


def versions() -> dict[str, str]:
    """The Google module versions the emulators are built from, as pinned in `emulators/go.mod`."""
    gomod = REPO_ROOT / "emulators" / "go.mod"
    found: dict[str, str] = {}
    if not gomod.is_file():
        return found
    for line in gomod.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (
            "cloud.google.com/go/pubsub/v2",
            "cloud.google.com/go/bigtable",
        ):
            found[parts[0]] = parts[1]
    return found
