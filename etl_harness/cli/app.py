"""`etl`: run, feed and inspect the pipeline locally (every command has `--help`).

Errors end in one `error: …` line on stderr: exit 2 for usage and configuration, 1 when the work
failed. `--json` output is alone on stdout. Commands that talk to Pub/Sub or Bigtable need the
emulator hosts (`export $(etl emulators up)`), or `--cloud` / `ETL_TARGET=cloud` to mean Google.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Literal

import typer
from typer._click.globals import get_current_context

from etl_harness.cli import output
from etl_harness.cli.errors import CliError, UsageProblem
from etl_harness.cli.group import EtlGroup
from etl_harness.cli.output import human, print_json
from etl_harness.local import Local
from etl_harness.local import from_env as local_from_env

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
emulators_app = typer.Typer(
    cls=EtlGroup,
    no_args_is_help=True,
    help="The native Pub/Sub and Bigtable emulators.",
    rich_markup_mode="markdown",
)
app.add_typer(emulators_app, name="emulators")
console = human

Pipeline = Literal["current", "fanout", "worker"]
"""`etl_harness.serve.PIPELINES` (a unit test keeps them equal)."""
Pull = Literal["batch", "streaming"]
"""`etl.entrypoints.worker.PULL_MODES` (a unit test keeps them equal)."""
Stage = Literal["dev", "test", "prod"]
"""`etl.config.STAGES` (a unit test keeps them equal)."""
Level = Literal["debug", "info", "warning", "error"]

ServiceOpt = Annotated[str | None, typer.Option("--service", help="Only this service.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output, alone on stdout.")]
CloudOpt = Annotated[
    bool,
    typer.Option(
        "--cloud",
        help="Talk to Google Cloud (no emulator hosts set); also `ETL_TARGET=cloud`.",
    ),
]
PipelineOpt = Annotated[Pipeline, typer.Option(help="The pipeline shape.")]
STDIN = "<stdin>"
"""How errors name `-` (`<stdin>:3: …`)."""


def configured() -> Local:
    """The harness configuration, from this process's environment (the CLI is an entry point)
    and the global options (`etl --stage test …`)."""
    return local_from_env({**os.environ, **overrides()})


def overrides() -> dict[str, str]:
    """The environment as the global options change it (`--stage`), for this process and the
    processes it starts. Read from click's current context (typer vendors click)."""
    ctx = get_current_context(silent=True)
    stage = ctx.find_root().params.get("stage") if ctx is not None else None
    return {"ETL_STAGE": stage} if stage else {}


def fail(message: str, code: int = 1) -> CliError:
    """`raise fail(message, code)`: an expected failure, said in one line (exit 2: usage)."""
    return UsageProblem(message) if code == 2 else CliError(message)


def on_target(cloud: bool = False) -> Local:
    """`configured()`, refusing to reach Google Cloud unless the user said so."""
    local = configured()
    settings = local.settings
    hosts = {
        "PUBSUB_EMULATOR_HOST": settings.pubsub_emulator_host,
        "BIGTABLE_EMULATOR_HOST": settings.bigtable_emulator_host,
    }
    missing = [name for name, host in hosts.items() if not host]
    if cloud and len(missing) < len(hosts):
        raise UsageProblem(
            "--cloud, but emulator hosts are set",
            "unset PUBSUB_EMULATOR_HOST and BIGTABLE_EMULATOR_HOST to reach Google Cloud",
        )
    if missing and not (cloud or local.cloud):
        raise UsageProblem(
            f"{' and '.join(missing)} not set, so this would reach Google Cloud",
            "start the emulators with `export $(etl emulators up)`, "
            "or pass --cloud (or set ETL_TARGET=cloud) to mean Google Cloud",
        )
    return local


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
    output.quiet_libraries(log_level or ("warning", "info", "debug")[min(verbose, 2)])


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
    from etl_harness.emulators.native import Hosts

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
    from etl_harness.emulators import native, state

    recorded = state.load(configured().state_dir)
    report: dict[str, dict[str, object]] = {}
    for kind in native.KINDS:
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
    from etl_harness.emulators.native import Running

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
        env = {**os.environ, **emulators.env(), **overrides()}
        seeded = subprocess.call(
            [sys.executable, "-m", "etl_harness", "emulators", "seed"], env=env
        )
        code = seeded or subprocess.call(ctx.args, env=env)
    raise typer.Exit(code)


def _register_emulator_commands() -> None:
    """`etl emulators faults|export|logs`, from their own modules."""
    from etl_harness.cli import emulator_state
    from etl_harness.cli import faults as emulator_faults

    emulator_faults.register(emulators_app, configured)
    emulator_state.register(emulators_app, configured)


_register_emulator_commands()


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
    cloud: CloudOpt = False,
) -> None:
    """Run a pipeline shape locally until SIGINT/SIGTERM (functions via push, or the worker)."""
    from etl.entrypoints.worker import WorkerOptions
    from etl_harness import serve as serving
    from etl_harness.instances import InstanceFailed

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
        with serving.serving_functions(local, pipeline, processes=processes) as urls:
            for target, url in urls.items():
                console.print(f"serving {target} at {url}")
            typer.echo(f"ready: pipeline {pipeline} ({processes} process(es))", err=True)
            stop.wait()
    except InstanceFailed as err:
        raise fail(str(err)) from err


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
            truth = commands.simulate(local, limit, speed_factor, seed, services, advance)
        except ValueError as err:
            raise UsageProblem(str(err)) from err
    if as_json:
        print_json(truth)
    else:
        console.print(f"published {limit} events; expected occupancy {truth['groundTruth']}")


@app.command()
def publish(
    source: Annotated[
        str, typer.Argument(metavar="FILE", help="One message per line, or - for stdin.")
    ],
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="FILE is a recording of `etl record`: publish its messages to the recorded "
            "topic, spaced as recorded, with their attributes and ordering keys.",
        ),
    ] = False,
    speed_factor: Annotated[
        float | None,
        typer.Option(help="With --replay: 2 = twice as fast as recorded (default 1)."),
    ] = None,
    as_json: JsonOpt = False,
    cloud: CloudOpt = False,
) -> None:
    """Publish each non-empty line, byte for byte, as one message to the events topic; with
    `--replay`, the messages of a recording as they were recorded."""
    from etl_harness.cli import commands

    # Checked here, not by typer's path type: its `allow_dash` does not let `-` through.
    if source != "-" and not Path(source).is_file():
        problem = "is a directory" if Path(source).is_dir() else "does not exist"
        raise UsageProblem(f"file {source!r} {problem}", "publish reads a file, or - for stdin")
    if replay:
        _replay(source, 1.0 if speed_factor is None else speed_factor, as_json, cloud)
        return
    if speed_factor is not None:
        raise UsageProblem("--speed-factor goes with --replay")
    local = on_target(cloud)
    stream = sys.stdin.buffer if source == "-" else Path(source).open("rb")  # noqa: SIM115
    with stream, output.working("publishing", as_json):
        count = commands.publish_lines(local, stream, STDIN if source == "-" else source)
    if as_json:
        print_json({"published": count})
        return
    console.print(f"published {count} messages")


def _replay(source: str, speed_factor: float, as_json: bool, cloud: bool) -> None:
    from etl_harness import recording
    from etl_harness.cli import commands

    factor = recording.checked_speed_factor(speed_factor)
    if source == "-":
        recorded = recording.parse(sys.stdin.buffer, STDIN)
    else:
        recorded = recording.read(Path(source))
    local = on_target(cloud)
    with output.progress("replaying", len(recorded.messages), as_json) as advance:
        count = commands.replay(local, recorded, factor, advance)
    if as_json:
        print_json({"published": count, "topic": recorded.topic, "speed_factor": factor})
        return
    console.print(f"published {count} messages to {recorded.topic} (speed factor {factor:g})")


@app.command()
def record(
    topic: Annotated[
        str, typer.Argument(metavar="TOPIC", help="The topic's name, e.g. acceso-events-dev.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FILE", dir_okay=False, help="The recording to write (JSON Lines)."
        ),
    ],
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Stop after N messages.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Stop after SECONDS.")
    ] = None,
    as_json: JsonOpt = False,
    cloud: CloudOpt = False,
) -> None:
    """Record what is published to TOPIC from now on (data, attributes, ordering key, publish
    time) through a temporary subscription, until `--limit`, `--duration` or Ctrl-C; `etl publish
    FILE --replay` sends it again."""
    from etl_harness import recording
    from etl_harness.cli import commands

    recording.topic_name(topic)
    if duration is not None and not duration > 0:
        raise UsageProblem(f"--duration must be > 0, got {duration:g}")
    if not out.parent.is_dir():
        raise UsageProblem(f"folder {str(out.parent)!r} does not exist", "--out writes a file")
    local = on_target(cloud)
    # Ctrl-C stops cleanly even where the shell started us with SIGINT ignored (`etl record … &`
    # in a script), and so does SIGTERM (`timeout 60 etl record …`).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)

    def ready(subscription: str) -> None:
        typer.echo(f"ready: recording {topic} through {subscription} (Ctrl-C stops)", err=True)

    with output.progress("recording", limit, as_json) as advance:
        capture = commands.record(local, topic, out, limit, duration, ready, advance)
    recorded = capture.recording
    if as_json:
        print_json(
            {
                "recorded": len(recorded.messages),
                "topic": recorded.topic,
                "project": recorded.project,
                "out": str(out),
                "subscription": capture.subscription,
                "stopped": capture.stopped,
            }
        )
        return
    console.print(
        f"recorded {len(recorded.messages)} messages of {recorded.topic} to {out} "
        f"(stopped: {capture.stopped})"
    )


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@app.command()
def occupancy(
    service: ServiceOpt = None, as_json: JsonOpt = False, cloud: CloudOpt = False
) -> None:
    """Current occupancy per service, as stored (an unknown `--service`: exit 1)."""
    from etl_harness.cli import commands
    from etl_harness.cli.views import occupancy_table

    local = on_target(cloud)
    with output.working("reading occupancy", as_json):
        result = commands.occupancy(local.settings, service)
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

        require_matplotlib()
    local = on_target(cloud)
    with output.working("reading the event rows", as_json):
        result = commands.analytics(local.settings, service)
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

    local = on_target(cloud)
    with output.working("pulling dead letters", as_json):
        letters = commands.dead_letters(local.settings)
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

    local = on_target(cloud)
    with output.working("reading status", as_json):
        report = commands.status(local.settings)
    if as_json:
        print_json(report)
        return
    output.tables(as_json).print(status_table(report))


@app.command()
def rebuild(service: ServiceOpt = None, as_json: JsonOpt = False, cloud: CloudOpt = False) -> None:
    """Recompute every summary (occupancy, hourly counts, daily peaks) from the event rows."""
    from etl_harness.cli import commands

    local = on_target(cloud)
    with output.working("rebuilding summaries", as_json):
        rebuilt = commands.rebuild(local.settings, service)
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
        commands.reset(settings)
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

    local = on_target(cloud)
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
    path.write_text((resources.files("etl_harness") / etl_toml.FILE_NAME).read_text())
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
            env = {**os.environ, **emulators.env()}
            raise typer.Exit(
                subprocess.call([sys.executable, "-m", "etl_harness", *sys.argv[1:]], env=env)
            )
    report = run_demo(
        local, events=events, pipeline=pipeline, seed=seed, timeout=timeout, as_json=as_json
    )
    if as_json:
        print_json(report.as_json())
    raise typer.Exit(0 if report.ok else 1)
