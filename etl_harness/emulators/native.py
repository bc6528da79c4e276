"""Start and stop our native Pub/Sub and Bigtable emulators (built by `emulators/build.sh`).

Both are started with `--seed etl.toml` (the Go binaries' flag for it), so they create its
resources before they answer: readiness means a real RPC answered (list topics, list tables),
not merely an open port. The Pub/Sub emulator also serves its admin API (backlogs, recent
messages: `ETL_PUBSUB_ADMIN_HOST`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from tenacity import Retrying, retry_if_not_exception_type, stop_after_delay, wait_exponential

from etl.config import DEFAULT_PROJECT
from etl_harness.emulators.pair import (
    BIGTABLE,
    KINDS,
    KINDS_BY_NAME,
    PUBSUB,
    EmulatorError,
    Kind,
    Running,
)
from etl_harness import etl_toml
from etl_harness.local import Local

PROJECT = DEFAULT_PROJECT
ADMIN_PORT = 8087


@dataclass(frozen=True, slots=True)
class Launch:
    """What the emulators are started with: an etl.toml, its project, the admin API port."""

    etl_toml: Path | None = None
    bin_dir: Path | None = None
    """Where the binaries are; None: on `PATH`."""
    project: str = PROJECT
    admin_port: int | None = None
    bigtable_admin_port: int | None = None
    """The Bigtable emulator's HTTP port for `POST /v1/export` (None: a free one when started)."""
    import_dir: Path | None = None
    export_on_exit: Path | None = None
    """State directories (absolute); each emulator reads or writes its own `DIR/<name>`."""

    def with_admin_port(self, host: str) -> Launch:
        """The default admin port, or a free one if it is taken."""
        port = ADMIN_PORT if port_is_free(host, ADMIN_PORT) else free_port(host)
        return replace(self, admin_port=port)


def argv(kind: Kind, binary: Path, host: str, port: int, launch: Launch) -> list[str]:
    """Our emulator binary's command line for `kind` on `host:port`, as `launch` says."""
    args = [str(binary), f"--host={host}", f"--port={port}"]
    if launch.etl_toml is not None:
        args += [f"--seed={launch.etl_toml}", f"--project={launch.project}"]
    if kind.name == "pubsub" and launch.admin_port is not None:
        args.append(f"--admin-port={launch.admin_port}")
    if kind.name == "bigtable" and launch.bigtable_admin_port is not None:
        args.append(f"--admin-port={launch.bigtable_admin_port}")
    if launch.import_dir is not None:
        args.append(f"--import={launch.import_dir / kind.name}")
    if launch.export_on_exit is not None:
        args.append(f"--export-on-exit={launch.export_on_exit / kind.name}")
    return args


def launch_for(local: Local) -> Launch:
    """Seeded from the etl.toml `local` finds (validated here, with line numbers), for its project."""
    path = etl_toml.find(local.etl_toml)
    etl_toml.load(path)
    bin_dir = find_bin_dir(local.emulators_bin)
    return Launch(path.resolve(), bin_dir, local.settings.project)


def find_bin_dir(explicit: str | None = None, start: Path | None = None) -> Path | None:
    """`explicit`, else `emulators/bin` from `start` (cwd) upwards (a checkout), else the
    installed `etl-pipeline-emulators` wheel's, else None (use `PATH`)."""
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "emulators" / "bin").is_dir():
            return folder / "emulators" / "bin"
    return _installed_bin_dir()


def _installed_bin_dir() -> Path | None:
    import importlib

    try:
        wheel = importlib.import_module("etl_emulators")  # the platform wheel, if installed
    except ImportError:
        return None
    bin_dir = Path(wheel.BIN_DIR)
    return bin_dir if bin_dir.is_dir() else None


_children: dict[int, subprocess.Popen[bytes]] = {}
"""Processes started by this interpreter, kept so they are waited for (no zombies, no warnings)."""


def adopt(proc: subprocess.Popen[bytes]) -> None:
    """Keep a process started elsewhere in the harness (Google's emulators) to be waited for."""
    _children[proc.pid] = proc

def binary_path(kind: Kind, bin_dir: Path | None) -> Path:
    found = (bin_dir / kind.binary) if bin_dir else Path(shutil.which(kind.binary) or kind.binary)
    if not found.is_file():
        raise EmulatorError(
            f"{found} not found: build the emulators first with `bash emulators/build.sh` "
            "(or `nox -s emulators`), install the etl-pipeline-emulators wheel "
            "(`nox -s wheels`), or set ETL_EMULATORS_BIN."
        )
    return found


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


def identity(pid: int) -> tuple[str, float] | None:
    """(executable, create time) of a running process; None when it is gone or not readable."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.exe(), proc.create_time()
    except (psutil.Error, OSError):
        return None


def is_ours(running: Running) -> bool:
    """The recorded pid still runs the emulator we started: same executable, same start time.
    A record without them (written before they were kept) cannot be trusted with a signal."""
    if running.exe is None or running.started is None:
        return False
    now = identity(running.pid)
    if now is None:
        return False
    exe, started = now
    same_exe = Path(exe).resolve() == Path(running.exe).resolve()
    return same_exe and abs(started - running.started) < 0.01


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


BIND_ATTEMPTS = 3
"""A free port is found by binding and closing it; another process (a parallel test run) can take
it before the emulator binds. Each attempt after a lost port takes fresh ones."""


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
    if kind is BIGTABLE and launch.bigtable_admin_port is None:
        launch = replace(launch, bigtable_admin_port=free_port(host))
    chosen = port if port is not None else kind.default_port
    if not port_is_free(host, chosen):
        chosen = free_port(host)
    for _ in range(BIND_ATTEMPTS - 1):
        try:
            return _start_once(kind, host, chosen, log_dir, launch)
        except _PortTaken:
            chosen = free_port(host)
            if kind is PUBSUB:
                launch = replace(launch, admin_port=free_port(host))
            else:
                launch = replace(launch, bigtable_admin_port=free_port(host))
    return _start_once(kind, host, chosen, log_dir, launch)


def _start_once(kind: Kind, host: str, port: int, log_dir: Path, launch: Launch) -> Running:
    binary = binary_path(kind, launch.bin_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{kind.name}-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv(kind, binary, host, port, launch),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    admin = launch.admin_port if kind is PUBSUB else launch.bigtable_admin_port
    exe, started = identity(proc.pid) or (str(binary.resolve()), None)
    running = Running(kind.name, proc.pid, host, port, str(log), admin, exe, started)
    try:
        wait_ready(kind, running.address, alive=lambda: proc.poll() is None)
    except EmulatorError as err:
        stop(running)
        last = log_tail(log)
        if "address already in use" in last:
            raise _PortTaken(f"{err}: {last}") from err
        raise EmulatorError(f"{err}: {last}" if last else str(err)) from err
    return running


class _PortTaken(EmulatorError):
    """The emulator exited because another process bound its port first."""


def log_tail(log: Path) -> str:
    """The last non-empty line of an emulator's log (why it exited), "" if none."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


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
        wait=wait_exponential(multiplier=0.005, max=0.1),  # 5, 10, 20 … 100 ms: a fast start shows
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


def stop(running: Running, *, timeout: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; a process already gone is fine. Only a process
    that `is_ours` is signalled (or our own child); returns whether one was."""
    if running.pid not in _children and not is_ours(running):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, KINDS_BY_NAME[running.name].stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _reap(running.pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, signal.SIGKILL)
    _reap(running.pid)
    return True


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


def healthy(kind: Kind, running: Running) -> bool:
    if not is_ours(running):
        return False
    try:
        probe(kind, running.address)
    except Exception:
        return False
    return True


@contextlib.contextmanager
def running_pair(launch: Launch, log_dir: Path, host: str = "127.0.0.1") -> Iterator[list[Running]]:
    """Both emulators on free ports, seeded, for a `with` block (tests, `etl demo`)."""
    launch = replace(launch, admin_port=free_port(host))
    started: list[Running] = []
    try:
        for kind in KINDS:
            started.append(
                start(kind, host=host, port=free_port(host), log_dir=log_dir, launch=launch)
            )
        yield started
    finally:
        for running in started:
            stop(running)


def versions(bin_dir: Path | None) -> dict[str, str]:
    """The Google module versions the emulators are built from, as pinned in `emulators/go.mod`
    beside `bin_dir` (empty when the binaries come from elsewhere)."""
    gomod = bin_dir.parent / "go.mod" if bin_dir else None
    found: dict[str, str] = {}
    if gomod is None or not gomod.is_file():
        return found
    for line in gomod.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (
            "cloud.google.com/go/pubsub/v2",
            "cloud.google.com/go/bigtable",
        ):
            found[parts[0]] = parts[1]
    return found
