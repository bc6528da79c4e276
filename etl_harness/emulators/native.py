"""Start, find and stop the native Pub/Sub and Bigtable emulators (built by `emulators/build.sh`).

`up` is idempotent: emulators recorded in the state file and still answering are reused; a
default port that is taken moves to a free one. Both are started with `--seed etl.toml`, so they
create the seeded resources before they answer: readiness means a real RPC answered (list
topics, list tables) on a seeded emulator, not merely an open port. The Pub/Sub emulator also
serves its admin API (backlogs, recent messages: `ETL_PUBSUB_ADMIN_HOST`).
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tenacity import Retrying, retry_if_not_exception_type, stop_after_delay, wait_fixed

from etl_core import EtlError

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "local-project"
ADMIN_PORT = 8087
ADMIN_ENV = "ETL_PUBSUB_ADMIN_HOST"


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

    def argv(self, binary: Path, host: str, port: int, launch: Launch) -> list[str]:
        args = [str(binary), f"--host={host}", f"--port={port}"]
        if launch.seed is not None:
            args += [f"--seed={launch.seed}", f"--project={launch.project}"]
        if self.name == "pubsub" and launch.admin_port is not None:
            args.append(f"--admin-port={launch.admin_port}")
        return args


@dataclass(frozen=True, slots=True)
class Launch:
    """What the emulators are started with: the seed file, its project, the admin API port."""

    seed: Path | None = None
    project: str = PROJECT
    admin_port: int | None = None

    def with_admin_port(self, host: str) -> Launch:
        """The default admin port, or a free one if it is taken."""
        port = ADMIN_PORT if port_is_free(host, ADMIN_PORT) else free_port(host)
        return replace(self, admin_port=port)


def default_launch() -> Launch:
    """Seeded from `etl.toml` (validated here, with line numbers) for `GOOGLE_CLOUD_PROJECT`."""
    from etl_harness import etl_toml

    path = seed.find()
    seed.load(path)
    return Launch(path.resolve(), os.environ.get("GOOGLE_CLOUD_PROJECT") or PROJECT)


_children: dict[int, subprocess.Popen[bytes]] = {}
"""Processes started by this interpreter, kept so they are waited for (no zombies, no warnings)."""

PUBSUB = Kind("pubsub", "pubsub-emulator", 8085, "PUBSUB_EMULATOR_HOST")
BIGTABLE = Kind("bigtable", "bigtable-emulator", 8086, "BIGTABLE_EMULATOR_HOST")
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
    admin_port: int | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def admin_address(self) -> str | None:
        return None if self.admin_port is None else f"{self.host}:{self.admin_port}"


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
    kind: Kind,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_dir: Path,
    launch: Launch | None = None,
) -> Running:
    """Start one emulator in its own session; returns once it answers a real RPC."""
    launch = launch or Launch()
    if kind is PUBSUB and launch.admin_port is None:
        launch = launch.with_admin_port(host)
    binary = binary_path(kind)
    chosen = port if port is not None else kind.default_port
    if not port_is_free(host, chosen):
        chosen = free_port(host)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{kind.name}-{chosen}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            kind.argv(binary, host, chosen, launch),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    admin = launch.admin_port if kind is PUBSUB else None
    running = Running(kind.name, proc.pid, host, chosen, str(log), admin)
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
    """Ensure both emulators run, seeded (reusing recorded healthy ones), and record them.

    All or nothing: if one fails to start, those this call started are stopped again."""
    launch = default_launch()
    state = load_state()
    started: list[str] = []
    try:
        for kind in KINDS:
            current = state.get(kind.name)
            if current is not None and healthy(kind, current):
                continue
            if current is not None:
                stop(current)
                del state[kind.name]
            state[kind.name] = start(kind, host=host, log_dir=state_dir() / "logs", launch=launch)
            started.append(kind.name)
    except EmulatorError:
        for name in started:
            stop(state.pop(name))
        raise
    finally:
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
    return [f"{name}={value}" for name, value in env_of(state).items()]


def env_of(state: dict[str, Running]) -> dict[str, str]:
    """The variables clients read: both emulator hosts and the Pub/Sub admin API."""
    env = {kind.env_var: state[kind.name].address for kind in KINDS if kind.name in state}
    pubsub = state.get(PUBSUB.name)
    if pubsub is not None and pubsub.admin_address:
        env[ADMIN_ENV] = pubsub.admin_address
    return env


@contextlib.contextmanager
def available(log_dir: Path | None = None) -> Iterator[dict[str, str]]:
    """Host variables of running emulators: configured ones, recorded ones, or a fresh pair that
    is stopped when the block ends."""
    names = (*(k.env_var for k in KINDS), ADMIN_ENV)
    configured = {name: os.environ[name] for name in names if os.environ.get(name)}
    if all(k.env_var in configured for k in KINDS):
        yield configured
        return
    recorded = load_state()
    if len(recorded) == len(KINDS) and all(healthy(k, recorded[k.name]) for k in KINDS):
        yield env_of(recorded)
        return
    with running_pair(log_dir or state_dir() / "logs") as env:
        yield env


@contextlib.contextmanager
def running_pair(log_dir: Path, host: str = "127.0.0.1") -> Iterator[dict[str, str]]:
    """Both emulators on free ports, seeded, for a `with` block (tests, `etl demo`)."""
    launch = replace(default_launch(), admin_port=free_port(host))
    started: dict[str, Running] = {}
    try:
        for kind in KINDS:
            started[kind.name] = start(
                kind, host=host, port=free_port(host), log_dir=log_dir, launch=launch
            )
        yield env_of(started)
    finally:
        for running in started.values():
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
