"""`etl emulators up|seed|down|status|exec`: the native emulators' lifecycle (`faults`, `export`
and `logs` come from their own modules, registered here)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from etl_harness.cli import output
from etl_harness.cli.errors import UsageProblem
from etl_harness.cli.group import EtlGroup
from etl_harness.cli.options import JsonOpt, configuration, configured, fail
from etl_harness.cli.output import human, print_json

console = human

emulators_app = typer.Typer(
    cls=EtlGroup,
    no_args_is_help=True,
    help="The native Pub/Sub and Bigtable emulators.",
    rich_markup_mode="markdown",
)


@emulators_app.command("up")
def emulators_up(
    import_from: Annotated[
        str | None,
        typer.Option("--import", metavar="DIR", help="Start from `etl emulators export DIR`."),
    ] = None,
    export_on_exit: Annotated[
        str | None,
        typer.Option(metavar="DIR", help="Export to DIR when stopped (`etl emulators down`)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start both emulators in the background (idempotent); print their host variables
    (`export $(etl emulators up)`)."""
    from etl_harness.cli.emulator_state import BadStateDir, export_dir, import_dir
    from etl_harness.emulators import state
    from etl_harness.emulators.pair import Hosts

    try:
        start_from = import_dir(import_from) if import_from else None
        end_in = export_dir(export_on_exit) if export_on_exit else None
    except BadStateDir as err:
        raise fail(str(err), 2) from err
    with output.working("starting the emulators", as_json):
        running = state.up(configured(), import_dir=start_from, export_on_exit=end_in)
    env = Hosts.of(running, "recorded").env()
    if as_json:
        print_json({"env": env, "emulators": {n: _running_json(r) for n, r in running.items()}})
        return
    for name, value in env.items():
        typer.echo(f"{name}={value}")


@emulators_app.command("seed")
def emulators_seed(as_json: JsonOpt = False) -> None:
    """Apply etl.toml to running emulators (those `up` starts are seeded already); idempotent."""
    from etl_harness import provision

    local = configured()
    settings = local.settings
    if not provision.on_emulators(settings):
        raise UsageProblem(provision.NO_HOSTS)
    stages = provision.ensure_stages(settings, provision.load(local))
    if as_json:
        print_json({"project": settings.project, "stages": list(stages)})
        return
    console.print(f"seeded project {settings.project}, stages {', '.join(stages)}")


@emulators_app.command("down")
def emulators_down(as_json: JsonOpt = False) -> None:
    """Stop the emulators that `etl emulators up` started (only processes that are still ours:
    same executable, same start time)."""
    from etl_harness.emulators import state

    stopped, forgotten = state.down(configured().state_dir)
    if as_json:
        print_json(
            {
                "stopped": [_running_json(r) for r in stopped],
                "forgotten": [_running_json(r) for r in forgotten],
            }
        )
        return
    for running in stopped:
        console.print(f"stopped {running.name} (pid {running.pid}, {running.address})")
    for running in forgotten:
        console.print(
            f"forgot {running.name}: pid {running.pid} no longer runs our emulator (not signalled)"
        )


@emulators_app.command("status")
def emulators_status(as_json: JsonOpt = False) -> None:
    """Show whether the recorded emulators run and answer (exit 1 unless both do)."""
    from etl_harness.emulators import native, pair, state

    recorded = state.load(configured().state_dir)
    report: dict[str, dict[str, object]] = {}
    for kind in pair.KINDS:
        running = recorded.get(kind.name)
        healthy = running is not None and native.healthy(kind, running)
        report[kind.name] = {"up": healthy, **(_running_json(running) if running else {})}
    ok = all(r["up"] for r in report.values())
    if as_json:
        print_json(report)
    elif not recorded:
        console.print("no emulators recorded: `etl emulators up` starts them")
    else:
        typer.echo("emulator\tstate\taddress\tpid\tlog")
        for name, row in report.items():
            where = "\t".join(str(row.get(k, "-")) for k in ("address", "pid", "log"))
            typer.echo(f"{name}\t{'up' if row['up'] else 'down'}\t{where}")
    raise typer.Exit(0 if ok else 1)


def _running_json(running: object) -> dict[str, object]:
    from etl_harness.emulators.pair import Running

    assert isinstance(running, Running)
    return {
        "pid": running.pid,
        "address": running.address,
        "admin": running.admin_address,
        "log": running.log,
    }


@emulators_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def emulators_exec(ctx: typer.Context) -> None:
    """`etl emulators exec -- CMD ...`: run CMD with emulators up, then tear down what was started.

    Emulators already configured (`*_EMULATOR_HOST`) or recorded by `etl emulators up` are reused
    and left running. Either way etl.toml is applied first (its stages and `ETL_STAGE`). CMD gets
    the host variables; exits with CMD's exit code.
    """
    import subprocess

    from etl_harness.emulators.hosts import Emulators

    if not ctx.args:
        raise UsageProblem("nothing to run", "etl emulators exec -- CMD [ARGS...]")
    local = configured()
    with Emulators(local) as emulators:
        # Children get the hosts (the official clients read them from the environment only):
        # `etl emulators seed` applies etl.toml, then CMD runs.
        env = configuration().child_environment(emulators.env())
        seeded = subprocess.call(
            [sys.executable, "-m", "etl_harness", "emulators", "seed"], env=env
        )
        code = seeded or subprocess.call(ctx.args, env=env)
    raise typer.Exit(code)


def _register_emulator_commands() -> None:
    """`etl emulators faults|export|logs`, from their own modules."""
    from etl_harness.cli import emulator_state
    from etl_harness.cli import faults as emulator_faults

    emulator_faults.register(emulators_app)
    emulator_state.register(emulators_app)


_register_emulator_commands()
