"""Emulators in the background: what `etl emulators up` started, recorded so that `down`,
`status` and later commands find them.

`up` is idempotent: recorded emulators still answering are reused; a default port that is taken
moves to a free one.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from etl_harness.emulators.native import healthy, launch_for, start, stop
from etl_harness.emulators.pair import KINDS, EmulatorError, Kind, Running
from etl_harness.local import Local


def state_file(state_dir: Path) -> Path:
    return state_dir / "emulators.json"


def load(state_dir: Path) -> dict[str, Running]:
    path = state_file(state_dir)
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {name: Running(**entry) for name, entry in raw.items()}
    except (ValueError, TypeError):
        return {}


def save(state_dir: Path, state: dict[str, Running]) -> None:
    path = state_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: asdict(r) for name, r in state.items()}, indent=2))


def recorded_healthy(state_dir: Path) -> dict[str, Running] | None:
    """Both recorded emulators, if both still answer."""
    recorded = load(state_dir)
    if len(recorded) == len(KINDS) and all(healthy(k, recorded[k.name]) for k in KINDS):
        return recorded
    return None


def up(
    local: Local,
    *,
    host: str = "127.0.0.1",
    import_dir: Path | None = None,
    export_on_exit: Path | None = None,
) -> dict[str, Running]:
    """Ensure both emulators run, seeded (reusing recorded healthy ones), and record them.

    `import_dir`/`export_on_exit`: state directories (each emulator its own `DIR/pubsub`,
    `DIR/bigtable`); they apply at start, so they are refused while either emulator runs.
    All or nothing: if one fails to start, those this call started are stopped again."""
    launch = replace(launch_for(local), import_dir=import_dir, export_on_exit=export_on_exit)
    state = load(local.state_dir)
    if import_dir or export_on_exit:
        running = [r.name for k in KINDS if (r := state.get(k.name)) and healthy(k, r)]
        if running:
            raise EmulatorError(
                f"{' and '.join(running)} already running: --import and --export-on-exit apply "
                "at start (`etl emulators down` first)"
            )
    started: list[str] = []
    try:
        for kind in KINDS:
            if not _replace(kind, state):
                continue
            logs = local.state_dir / "logs"
            state[kind.name] = start(kind, host=host, log_dir=logs, launch=launch)
            started.append(kind.name)
    except EmulatorError:
        for name in started:
            stop(state.pop(name))
        raise
    finally:
        save(local.state_dir, state)
    return state


def _replace(kind: Kind, state: dict[str, Running]) -> bool:
    """True when `kind` must be started: not recorded, or recorded but not answering (stopped)."""
    current = state.get(kind.name)
    if current is not None and healthy(kind, current):
        return False
    if current is not None:
        stop(current)
        del state[kind.name]
    return True


def down(state_dir: Path) -> tuple[list[Running], list[Running]]:
    """Stop what `up` started and forget it: (stopped, forgotten). A recorded pid that no longer
    runs our emulator (`native.is_ours`) is forgotten without a signal."""
    state = load(state_dir)
    stopped = [running for running in state.values() if stop(running)]
    with contextlib.suppress(FileNotFoundError):
        state_file(state_dir).unlink()
    return stopped, [running for running in state.values() if running not in stopped]
