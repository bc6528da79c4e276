"""`etl`: run, feed and inspect the pipeline locally (every command has `--help`)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from etl.entrypoints.worker import PULL_MODES, WorkerOptions
from etl_core import occupancy_series
from etl_harness.cli import commands, emulator_state
from etl_harness.cli import faults as emulator_faults
from etl_harness.cli.views import (
    analytics_table,
    daily_peaks_table,
    occupancy_table,
    print_json,
    status_table,
)
from etl_harness.emulators.native import EmulatorError
from etl_harness.etl_toml import InvalidEtlToml
from etl_harness.local import Local
from etl_harness.local import from_env as local_from_env
from etl_harness.serve import PIPELINES

app = typer.Typer(no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
emulators_app = typer.Typer(no_args_is_help=True, help="The native Pub/Sub and Bigtable emulators.")
app.add_typer(emulators_app, name="emulators")
console = Console(stderr=True)

ServiceOpt = Annotated[str | None, typer.Option("--service", help="Only this service.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def configured() -> Local:
    """The harness configuration, from this process's environment (the CLI is an entry point)."""
    return local_from_env(os.environ)


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


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
) -> None:
    """Start both emulators in the background (idempotent); print their host variables."""
    from etl_harness.cli.emulator_state import BadStateDir, export_dir, import_dir
    from etl_harness.emulators import state
    from etl_harness.emulators.hosts import Hosts

    try:
        start_from = import_dir(import_from) if import_from else None
        end_in = export_dir(export_on_exit) if export_on_exit else None
        running = state.up(configured(), import_dir=start_from, export_on_exit=end_in)
    except BadStateDir as err:
        raise fail(str(err), 2) from err
    except InvalidEtlToml as err:
        raise fail(str(err), 2) from err
    except EmulatorError as err:
        raise fail(str(err)) from err
    for name, value in Hosts.of(running, "recorded").env().items():
        typer.echo(f"{name}={value}")


@emulators_app.command("seed")
def emulators_seed() -> None:
    """Apply etl.toml to running emulators (those `up` starts are seeded already); idempotent."""
    from etl_harness import provision

    local = configured()
    settings = local.settings
    if not provision.on_emulators(settings):
        raise fail(provision.NO_HOSTS, 2)
    try:
        stages = provision.ensure_stages(settings, provision.load(local))
    except InvalidEtlToml as err:
        raise fail(str(err), 2) from err
    console.print(f"seeded project {settings.project}, stages {', '.join(stages)}")


@emulators_app.command("down")
def emulators_down() -> None:
    """Stop the emulators that `etl emulators up` started."""
    from etl_harness.emulators import state

    for running in state.down(configured().state_dir):
        console.print(f"stopped {running.name} (pid {running.pid}, {running.address})")


@emulators_app.command("status")
def emulators_status() -> None:
    """Show whether the recorded emulators run and answer."""
    from etl_harness.emulators import native, state

    recorded = state.load(configured().state_dir)
    if not recorded:
        console.print("no emulators recorded: `etl emulators up` starts them")
        raise typer.Exit(1)
    ok = True
    for kind in native.KINDS:
        running = recorded.get(kind.name)
        healthy = running is not None and native.healthy(kind, running)
        ok &= healthy
        where = f"{running.address} pid {running.pid} log {running.log}" if running else "-"
        typer.echo(f"{kind.name}\t{'up' if healthy else 'down'}\t{where}")
    raise typer.Exit(0 if ok else 1)


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

    from etl_harness import provision
    from etl_harness.emulators.hosts import Emulators

    if not ctx.args:
        raise fail("nothing to run: etl emulators exec -- CMD [ARGS...]", 2)
    try:
        with Emulators(configured()) as emulators:
            provision.ensure_stages(emulators.settings, provision.load(emulators.local))
            code = subprocess.call(ctx.args, env={**os.environ, **emulators.env()})
    except InvalidEtlToml as err:
        raise fail(str(err), 2) from err
    except EmulatorError as err:
        raise fail(str(err)) from err
    raise typer.Exit(code)


emulator_faults.register(emulators_app, configured)
emulator_state.register(emulators_app, configured)


@app.command()
def serve(
    pipeline: Annotated[str, typer.Option(help=f"One of {', '.join(PIPELINES)}.")] = "current",
    pull: Annotated[
        str, typer.Option(help="Worker only: batch (sync Pull) or streaming.")
    ] = "batch",
    batch_size: Annotated[int, typer.Option(help="Worker only: messages per batch.")] = 500,
) -> None:
    """Run a pipeline shape locally until SIGINT/SIGTERM (functions via push, or the worker)."""
    from etl_harness import serve as serving

    if pipeline not in PIPELINES:
        raise fail(f"--pipeline must be one of {', '.join(PIPELINES)}")
    local = configured()
    settings = local.settings
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if pipeline == "worker":

        def ready() -> None:
            typer.echo(f"ready: pipeline worker on {settings.subscription('worker')}", err=True)

        if pull not in PULL_MODES:
            raise fail(f"--pull must be one of {', '.join(PULL_MODES)}")
        options = WorkerOptions(pull=pull, batch_size=batch_size)
        serving.run_worker(local, stop, options, on_ready=ready)
        return
    with serving.serving_functions(local, pipeline) as urls:
        for target, url in urls.items():
            console.print(f"serving {target} at {url}")
        typer.echo(f"ready: pipeline {pipeline}", err=True)
        stop.wait()


@app.command()
def simulate(
    limit: Annotated[int, typer.Option(help="Number of events.")] = 100,
    speed_factor: Annotated[float, typer.Option(help="60 = one hour of data per minute.")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 0,
    services: Annotated[str | None, typer.Option(help="Comma-separated service names.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish simulated events; `--json` prints the ground truth."""
    try:
        truth = commands.simulate(configured(), limit, speed_factor, seed, services)
    except ValueError as err:
        raise fail(str(err), 2) from err
    if as_json:
        print_json(truth)
    else:
        console.print(f"published {limit} events; expected occupancy {truth['groundTruth']}")


@app.command()
def publish(
    source: Annotated[str, typer.Argument(help="A file of one message per line, or - for stdin.")],
) -> None:
    """Publish each non-empty line, byte for byte, as one message (replay recorded data)."""
    stream = sys.stdin.buffer if source == "-" else Path(source).open("rb")  # noqa: SIM115
    with stream:
        count = commands.publish_lines(configured(), stream)
    console.print(f"published {count} messages")


@app.command()
def occupancy(service: ServiceOpt = None, as_json: JsonOpt = False) -> None:
    """Current occupancy per service, as stored."""
    result = commands.occupancy(configured().settings, service)
    if as_json:
        print_json({svc: occ.value for svc, occ in result.items()})
    else:
        Console().print(occupancy_table(result))


@app.command()
def analytics(
    service: ServiceOpt = None,
    as_json: JsonOpt = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of hourly entries/exits and occupancy.")
    ] = None,
) -> None:
    """Hourly entries/exits, peak and current occupancy per service, from the event rows; the
    peak of each day, as the fan-out's daily_peak function stored it."""
    result = commands.analytics(configured().settings, service)
    summaries = result.summaries
    if plot is not None:
        from etl_harness.cli.plot import plot_summaries

        plot_summaries(summaries, occupancy_series(result.events), plot)
        console.print(f"wrote {plot}")
    if as_json:
        print_json(
            {svc: commands.summary_json(s, result.daily.get(svc)) for svc, s in summaries.items()}
        )
    else:
        Console().print(analytics_table(summaries))
        if result.daily:
            Console().print(daily_peaks_table(result.daily))


@app.command("dead-letters")
def dead_letters(as_json: JsonOpt = False) -> None:
    """Messages that could not be processed, with their reason (not consumed by listing)."""
    letters = commands.dead_letters(configured().settings)
    if as_json:
        print_json([d.as_json() for d in letters])
        return
    for letter in letters:
        typer.echo(f"{letter.reason}\t{letter.message_id}\t{letter.data[:80]!r}\t{letter.detail}")
    console.print(f"{len(letters)} dead letter(s)")


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Processing counters, per-service occupancy/events/anomalies, dead letters by reason."""
    report = commands.status(configured().settings)
    if as_json:
        print_json(report)
        return
    Console().print(status_table(report))


@app.command()
def rebuild(service: ServiceOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute every summary (occupancy, hourly counts, daily peaks) from the event rows."""
    rebuilt = commands.rebuild(configured().settings, service)
    if as_json:
        print_json(rebuilt)
        return
    for svc, summary in rebuilt.items():
        console.print(
            f"{svc}: occupancy {summary['occupancy']}, {summary['events']} events, "
            f"{summary['anomalies']} anomalies"
        )


@app.command()
def reset(
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Emulators only: every topic, subscription (and backlog) and table of the "
            "project goes, then etl.toml is applied again. No restart.",
        ),
    ] = False,
) -> None:
    """Delete every row of the stage's table (refused on prod); `--all`: back to etl.toml."""
    from etl.adapters.bigtable import ResetRefused
    from etl_harness import provision

    local = configured()
    settings = local.settings
    try:
        if everything:
            report = provision.reset_all(settings, provision.load(local))
            console.print(
                f"project {settings.project} back to etl.toml in {report.seconds * 1000:.0f} ms "
                f"(deleted {report.subscriptions} subscriptions, {report.topics} topics, "
                f"{report.tables} tables)"
            )
            return
        commands.reset(settings)
    except (ResetRefused, InvalidEtlToml) as err:
        raise fail(str(err), 2) from err
    console.print(f"table {settings.table} emptied")


@app.command()
def inspect(
    port: Annotated[int, typer.Option(help="Port of the page (0: any free one).")] = 8088,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """The inspector web page: backlogs, messages, dead letters, occupancy, hourly chart, rows."""
    from etl_harness.inspector import serve

    try:
        serve(
            configured().settings,
            host,
            port,
            on_ready=lambda url: console.print(f"inspector at {url} (Ctrl-C stops)"),
        )
    except OSError as err:
        raise fail(f"cannot serve on {host}:{port}: {err}") from err


@app.command()
def demo(
    events: Annotated[int, typer.Option(help="Number of simulated events.")] = 2000,
    pipeline: Annotated[str, typer.Option(help=f"One of {', '.join(PIPELINES)}.")] = "current",
    seed: Annotated[int, typer.Option()] = 7,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the pipeline to drain.")
    ] = 300,
    as_json: JsonOpt = False,
) -> None:
    """Start emulators if needed, serve a pipeline, simulate, and check occupancy against truth."""
    from etl_harness.cli.demo import run_demo

    if pipeline not in PIPELINES:
        raise fail(f"--pipeline must be one of {', '.join(PIPELINES)}")
    report = run_demo(
        configured(), events=events, pipeline=pipeline, seed=seed, timeout=timeout, console=console
    )
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    raise typer.Exit(0 if report.ok else 1)
