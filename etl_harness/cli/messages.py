"""`etl publish` (lines, or a recording with `--replay`) and `etl record`: messages in and out of
a topic."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from etl_harness.cli import output
from etl_harness.cli.errors import UsageProblem
from etl_harness.cli.options import STDIN, CloudOpt, JsonOpt, on_target
from etl_harness.cli.output import human, print_json

console = human


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
    stream = sys.stdin.buffer if source == "-" else Path(source).open("rb")  # noqa: SIM115
    with stream:
        lines = commands.message_lines(stream, STDIN if source == "-" else source)
        local = on_target(cloud)
        with output.working("publishing", as_json):
            count = commands.publish_lines(local, lines)
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
        count = commands.replay_recording(local, recorded, factor, advance)
    if as_json:
        print_json({"published": count, "topic": recorded.topic, "speed_factor": factor})
        return
    console.print(f"published {count} messages to {recorded.topic} (speed factor {factor:g})")


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
        capture = commands.record_to_file(local, topic, out, limit, duration, ready, advance)
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
