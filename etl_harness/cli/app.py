"""`etl`: run, feed and inspect the pipeline locally (every command has `--help`).

Errors end in one `error: …` line on stderr: exit 2 for usage and configuration, 1 when the work
failed. `--json` output is alone on stdout. Commands that talk to Pub/Sub or Bigtable need the
emulator hosts (`export $(etl emulators up)`), or `--cloud` / `ETL_TARGET=cloud` to mean Google.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Concatenate, ParamSpec, TypeVar

import typer

from etl_harness.cli import emulator_lifecycle, messages, output
from etl_harness.cli.errors import CliError, UsageProblem
from etl_harness.cli.group import EtlGroup
from etl_harness.cli.options import (
    CloudOpt,
    JsonOpt,
    Level,
    PipelineOpt,
    Pull,
    ServiceOpt,
    Stage,
    configuration,
    configured,
    fail,
    from_process,
    on_target,
)
from etl_harness.cli.output import human, print_json

if TYPE_CHECKING:
    from etl.config import Settings
    from etl_harness.local import Local

T = TypeVar("T")
P = ParamSpec("P")

# The Google clients, flask and matplotlib are imported inside the commands that use them, so
# `etl --help` answers at once.

SETTINGS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    cls=EtlGroup,
    no_args_is_help=True,
    help=__doc__,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings=SETTINGS,
)
console = human

app.add_typer(emulator_lifecycle.emulators_app, name="emulators")


def _version(show: bool) -> None:
    if not show:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        typer.echo(f"etl {version('etl-pipeline')}")
    except PackageNotFoundError:
        typer.echo("etl (not installed)")
    raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    stage: Annotated[
        Stage | None, typer.Option(help="The stage to work on (default: `ETL_STAGE`, else dev).")
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            metavar="",
            show_default=False,
            help="-v: info logs, -vv: debug.",
        ),
    ] = 0,
    log_level: Annotated[
        Level | None, typer.Option(help="Log level of the pipeline's logs (default warning).")
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    # The configuration, built once here for every command (the stage defaults to `etl.config`'s,
    # as in the pytest plugin); the commands read it from the context.
    ctx.obj = from_process(stage)
    output.quiet_libraries(log_level or ("warning", "info", "debug")[min(verbose, 2)])


@app.command()
def serve(
    pipeline: PipelineOpt = "current",
    pull: Annotated[Pull, typer.Option(help="Worker only: sync Pull or streaming.")] = "batch",
    batch_size: Annotated[int, typer.Option(help="Worker only: messages per batch.")] = 500,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving each push endpoint, like concurrent function instances "
            "(worker: processes on the subscription).",
        ),
    ] = 1,
    require_push_auth: Annotated[
        bool,
        typer.Option(
            "--require-push-auth",
            help="Functions refuse pushes without a valid OIDC token, as Cloud Run does; our "
            "emulator signs them (or `oidc_token` on a function's subscription in etl.toml).",
        ),
    ] = False,
    cloud: CloudOpt = False,
) -> None:
    """Run a pipeline shape locally until SIGINT/SIGTERM (functions via push, or the worker)."""
    from etl.entrypoints.worker import WorkerOptions
    from etl_harness import serve as serving
    from etl_harness.instances import InstanceFailed

    if require_push_auth and pipeline == "worker":
        raise fail("--require-push-auth is for the shapes with functions (push), not worker", 2)
    local = on_target(cloud)
    settings = local.settings
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if pipeline == "worker":

            def ready() -> None:
                typer.echo(
                    f"ready: pipeline worker on {settings.subscription('worker')} "
                    f"({processes} process(es))",
                    err=True,
                )

            options = WorkerOptions(pull=pull, batch_size=batch_size)
            serving.run_worker(local, stop, options, on_ready=ready, processes=processes)
            return
        _serve_functions(local, pipeline, processes, require_push_auth, stop)
    except InstanceFailed as err:
        raise fail(str(err)) from err


def _serve_functions(
    local: Local, pipeline: str, processes: int, require_push_auth: bool, stop: threading.Event
) -> None:
    """`etl serve` of a shape with functions, until `stop` is set; exit 2 when push tokens are
    wanted and our Pub/Sub emulator (which signs them) is not the one running."""
    from etl_harness import serve as serving
    from etl_harness.push_auth import PushAuthUnavailable

    try:
        with serving.serving_functions(
            local,
            pipeline,
            processes=processes,
            require_push_auth=require_push_auth,
            certs_url=_push_certs_url(local),
        ) as urls:
            for target, url in urls.items():
                console.print(f"serving {target} at {url}")
            typer.echo(f"ready: pipeline {pipeline} ({processes} process(es))", err=True)
            stop.wait()
    except PushAuthUnavailable as err:
        raise fail(str(err), 2) from err


def _push_certs_url(local: Local) -> str | None:
    """Where our Pub/Sub emulator serves the certificates of its push tokens (its admin API), or
    None when no emulator of ours is known (Google's, or Google Cloud)."""
    from etl_harness.cli.faults import admin_host
    from etl_harness.push_auth import emulator_certs_url

    admin = admin_host(local) if local.settings.pubsub_emulator_host else None
    return emulator_certs_url(admin) if admin else None


@app.command()
def simulate(
    limit: Annotated[int, typer.Option(help="Number of events.")] = 100,
    speed_factor: Annotated[float, typer.Option(help="60 = one hour of data per minute.")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 0,
    services: Annotated[str | None, typer.Option(help="Comma-separated service names.")] = None,
    as_json: JsonOpt = False,
    cloud: CloudOpt = False,
) -> None:
    """Publish simulated events, paced by `--speed-factor`; `--json` prints the ground truth."""
    from etl_harness.cli import commands

    local = on_target(cloud)
    with output.progress("publishing", limit, as_json) as advance:
        try:
            truth = commands.publish_simulation(local, limit, speed_factor, seed, services, advance)
        except ValueError as err:
            raise UsageProblem(str(err)) from err
    if as_json:
        print_json(truth)
    else:
        console.print(f"published {limit} events; expected occupancy {truth['groundTruth']}")


app.command()(messages.publish)
app.command()(messages.record)


@app.command()
def occupancy(
    service: ServiceOpt = None, as_json: JsonOpt = False, cloud: CloudOpt = False
) -> None:
    """Current occupancy per service, as stored (an unknown `--service`: exit 1)."""
    from etl_harness.cli import commands
    from etl_harness.cli.views import occupancy_table

    result = _read(cloud, as_json, "reading occupancy", commands.read_occupancy, service)
    if as_json:
        print_json({svc: occ.value for svc, occ in result.items()})
    else:
        output.tables(as_json).print(occupancy_table(result))


@app.command()
def analytics(
    service: ServiceOpt = None,
    as_json: JsonOpt = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Write a PNG of hourly entries/exits and occupancy (needs the `plot` extra).",
            dir_okay=False,
        ),
    ] = None,
    cloud: CloudOpt = False,
) -> None:
    """Hourly entries/exits, peak and current occupancy per service, from the event rows; the
    peak of each day, as the fan-out's daily_peak function stored it."""
    from etl_core import occupancy_series
    from etl_harness.cli import commands
    from etl_harness.cli.views import analytics_table, daily_peaks_table

    if plot is not None:
        from etl_harness.cli.plot import require_matplotlib

        require_matplotlib(plot)
    result = _read(cloud, as_json, "reading the event rows", commands.read_analytics, service)
    summaries = result.summaries
    if plot is not None:
        from etl_harness.cli.plot import plot_summaries

        plot_summaries(summaries, occupancy_series(result.events), plot)
        console.print(f"wrote {plot}")
    if as_json:
        print_json(
            {svc: commands.summary_json(s, result.daily.get(svc)) for svc, s in summaries.items()}
        )
        return
    out = output.tables(as_json)
    out.print(analytics_table(summaries))
    if result.daily:
        out.print(daily_peaks_table(result.daily))


@app.command("dead-letters")
def dead_letters(as_json: JsonOpt = False, cloud: CloudOpt = False) -> None:
    """Messages that could not be processed, with their reason (not consumed by listing)."""
    from etl_harness.cli import commands

    letters = _read(cloud, as_json, "pulling dead letters", commands.list_dead_letters)
    if as_json:
        print_json([d.as_json() for d in letters])
        return
    for letter in letters:
        typer.echo(f"{letter.reason}\t{letter.message_id}\t{letter.data[:80]!r}\t{letter.detail}")
    console.print(f"{len(letters)} dead letter(s)")


@app.command()
def status(as_json: JsonOpt = False, cloud: CloudOpt = False) -> None:
    """Processing counters, per-service occupancy/events/anomalies, dead letters by reason."""
    from etl_harness.cli import commands
    from etl_harness.cli.views import status_table

    report = _read(cloud, as_json, "reading status", commands.status_report)
    if as_json:
        print_json(report)
        return
    output.tables(as_json).print(status_table(report))


@app.command()
def rebuild(service: ServiceOpt = None, as_json: JsonOpt = False, cloud: CloudOpt = False) -> None:
    """Recompute every summary (occupancy, hourly counts, daily peaks) from the event rows."""
    from etl_harness.cli import commands

    rebuilt = _read(cloud, as_json, "rebuilding summaries", commands.rebuild_summaries, service)
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
    cloud: CloudOpt = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm a reset on Google Cloud (with --cloud).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete every row of the stage's table (on the emulators; on Google Cloud only with
    `--cloud --yes`, never on prod); `--all`: back to etl.toml."""
    from etl_harness import provision
    from etl_harness.cli import commands

    local = on_target(cloud)
    settings = local.settings
    if not provision.on_emulators(settings) and not yes:
        raise UsageProblem(
            f"this empties table {settings.table} of project {settings.project} on Google Cloud",
            "add --yes to confirm",
        )
    if everything:
        with output.working("resetting the project", as_json):
            report = provision.reset_all(settings, provision.load(local))
        if as_json:
            print_json(
                {
                    "project": settings.project,
                    "seconds": round(report.seconds, 3),
                    "deleted": {
                        "subscriptions": report.subscriptions,
                        "topics": report.topics,
                        "tables": report.tables,
                    },
                }
            )
            return
        console.print(
            f"project {settings.project} back to etl.toml in {report.seconds * 1000:.0f} ms "
            f"(deleted {report.subscriptions} subscriptions, {report.topics} topics, "
            f"{report.tables} tables)"
        )
        return
    with output.working(f"emptying {settings.table}", as_json):
        commands.empty_table(settings)
    if as_json:
        print_json({"project": settings.project, "table": settings.table, "emptied": True})
        return
    console.print(f"table {settings.table} emptied")


@app.command()
def inspect(
    port: Annotated[int, typer.Option(help="Port of the page (0: any free one).")] = 8088,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    cloud: CloudOpt = False,
) -> None:
    """The inspector web page: backlogs, messages, dead letters, occupancy, hourly chart, rows."""
    from etl_harness.inspector import serve

    local = on_target(cloud, answering=False)  # the page shows an emulator that is down
    try:
        serve(
            local.settings,
            host,
            port,
            on_ready=lambda url: console.print(f"inspector at {url} (Ctrl-C stops)"),
        )
    except OSError as err:
        raise CliError(f"cannot serve on {host}:{port}: {err}") from err


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.", dir_okay=False)] = Path(
        "etl.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a starter etl.toml (the one the harness ships with) to edit: an etl.toml found from
    the working directory upwards wins over the packaged one."""
    from importlib import resources

    from etl_harness import etl_toml

    if path.exists() and not force:
        raise UsageProblem(f"{path} exists", "edit it, or pass --force to overwrite it")
    try:
        path.write_text((resources.files("etl_harness") / etl_toml.FILE_NAME).read_text())
    except OSError as err:
        raise UsageProblem(f"cannot write {path}: {err.strerror}") from None
    etl_toml.load(path)
    if as_json:
        print_json({"wrote": str(path)})
        return
    console.print(f"wrote {path}: topics, subscriptions and tables per stage")


@app.command()
def demo(
    events: Annotated[int, typer.Option(help="Number of simulated events.")] = 2000,
    pipeline: PipelineOpt = "current",
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 7,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the pipeline to drain.")
    ] = 300,
    as_json: JsonOpt = False,
) -> None:
    """Start emulators if needed, serve a pipeline, simulate, and check occupancy against truth
    (exit 1 on a mismatch)."""
    import subprocess

    from etl_harness.cli.demo import run_demo
    from etl_harness.emulators.hosts import Emulators

    local = configured()
    if not (local.settings.pubsub_emulator_host and local.settings.bigtable_emulator_host):
        # The official clients read the hosts from the environment only: run the demo again in
        # a child process that has them, against emulators started (or found) for it.
        with Emulators(local) as emulators:
            env = configuration().child_environment(emulators.env())
            raise typer.Exit(
                subprocess.call([sys.executable, "-m", "etl_harness", *sys.argv[1:]], env=env)
            )
    report = run_demo(
        local, events=events, pipeline=pipeline, seed=seed, timeout=timeout, as_json=as_json
    )
    if as_json:
        print_json(report.as_json())
    raise typer.Exit(0 if report.ok else 1)


def _read(
    cloud: bool,
    as_json: bool,
    what: str,
    read: Callable[Concatenate[Settings, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`read(settings, *args)` on the target the user chose (`on_target`), saying `what`
    meanwhile."""
    local = on_target(cloud)
    with output.working(what, as_json):
        return read(local.settings, *args, **kwargs)
