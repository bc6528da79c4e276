"""`etl emulators faults`: at-least-once conditions on demand, through our Pub/Sub emulator's
admin API (duplicates, delays, reordering, failed pushes, early redelivery, transient ack failures;
per subscription).

Options are parsed and validated here, with the emulator's own rules (`etl_harness.faults`),
so a mistake is one line and exit 2 before anything is sent; an answer with an error from the
emulator (unknown subscription) and an emulator that does not answer are exit 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from etl_harness.cli.options import configured, fail
from etl_harness.faults import FIRED, FRACTIONS, Faults, InvalidFaults, go_number
from etl_harness.local import Local


class BadOptions(ValueError):
    """The command line asks for something impossible (exit 2)."""


@dataclass(frozen=True, slots=True)
class FaultOptions:
    """The command line's fault options as typed (strings: parsed here, one-line errors)."""

    duplicate: str | None = None
    delay_ms: str | None = None
    delay_fraction: str | None = None
    shuffle: bool = False
    push_error: str | None = None
    early_redelivery: str | None = None
    seed: str | None = None
    transient_ack_failure: str | None = None

    def given(self) -> bool:
        return self.shuffle or any(
            v is not None
            for v in (self.duplicate, self.delay_ms, self.delay_fraction, self.push_error,
                      self.early_redelivery, self.seed, self.transient_ack_failure)
        )  # fmt: skip

    def faults(self) -> Faults:
        """The faults asked for; `BadOptions` names the option and the problem."""
        raw: dict[str, Any] = {}
        for key in FRACTIONS:
            text = getattr(self, key)
            if text is not None:
                raw[key] = _number(text, _option(key))
        if self.delay_ms is not None:
            raw["delay_ms"] = _delay(self.delay_ms)
        if self.shuffle:
            raw["shuffle"] = True
        if self.seed is not None:
            try:
                raw["seed"] = int(self.seed)
            except ValueError:
                raise BadOptions(f"--seed must be an integer, got {self.seed!r}") from None
        try:
            return Faults.parse(raw)
        except InvalidFaults as err:
            raise BadOptions(_in_option_words(str(err))) from err


def requested(
    subscription: str | None, off: bool, options: FaultOptions, project: str
) -> tuple[str | None, Faults | None]:
    """The subscription's path (None: list them all) and the faults to set (None: show, or
    turn off with `off`)."""
    if subscription is None:
        if off or options.given():
            raise BadOptions("fault options need a SUBSCRIPTION")
        return None, None
    if off and options.given():
        raise BadOptions("--off turns every fault off: give it alone")
    path = subscription_path(subscription, project)
    return path, options.faults() if options.given() else None


def subscription_path(name: str, project: str) -> str:
    """`projects/P/subscriptions/S` from a name in `project`, or from a path as it is."""
    if not name.startswith("projects/"):
        if "/" in name or not name:
            raise BadOptions(f"{name!r} is not a subscription name or projects/P/subscriptions/S")
        return f"projects/{project}/subscriptions/{name}"
    parts = name.split("/")
    if len(parts) != 4 or parts[2] != "subscriptions" or not parts[1] or not parts[3]:
        raise BadOptions(f"{name!r} is not a subscription name or projects/P/subscriptions/S")
    return name


def admin_host(local: Local) -> str | None:
    """`ETL_PUBSUB_ADMIN_HOST`, else the admin API of the emulator `etl emulators up` recorded."""
    if local.settings.pubsub_admin_host:
        return local.settings.pubsub_admin_host
    from etl_harness.emulators import state

    recorded = state.load(local.state_dir).get("pubsub")
    return recorded.admin_address if recorded else None


def status_line(status: Mapping[str, Any], project: str) -> str:
    """One subscription's faults as a line: `name<TAB>faults<TAB>fired ...<TAB>held N`."""
    name = str(status.get("subscription", ""))
    name = name.removeprefix(f"projects/{project}/subscriptions/")
    fired = status.get("fired") or {}
    counts = " ".join(f"{k}={fired.get(k, 0)}" for k in FIRED)
    return f"{name}\t{describe(status.get('faults'))}\tfired {counts}\theld {status.get('held', 0)}"


def describe(config: Mapping[str, Any] | None) -> str:
    """The faults that are on, as `duplicate=0.1 delay=0-5000ms@0.1 shuffle seed=7`, or `off`."""
    if not config:
        return "off"
    words = []
    for key in ("duplicate", "push_error", "early_redelivery", "transient_ack_failure"):
        if config.get(key):
            words.append(f"{key}={go_number(config[key])}")
    if config.get("delay_fraction"):
        low, high = config.get("delay_ms") or (0, 0)
        words.append(f"delay={low}-{high}ms@{go_number(config['delay_fraction'])}")
    if config.get("shuffle"):
        words.append("shuffle")
    if not words:
        words.append("none")
    if config.get("seed") is not None:
        words.append(f"seed={config['seed']}")
    return " ".join(words)


def _option(key: str) -> str:
    return "--" + key.replace("_", "-")


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadOptions(f"{option} must be a number 0-1, got {text!r}") from None


def _delay(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise BadOptions(f"--delay-ms must be LO,HI in milliseconds, got {text!r}") from None


def _in_option_words(message: str) -> str:
    """`faults.delay_fraction needs delay_ms = [low, high]` → `--delay-fraction needs --delay-ms
    LO,HI`: the emulator's rule, named as the user typed it."""
    message = message.replace("delay_ms = [low, high]", "--delay-ms LO,HI")
    for key in ("delay_ms", *FRACTIONS):
        message = message.replace(f"faults.{key}", _option(key))
    return message.replace("[low, high]", "LO,HI")


@contextlib.contextmanager
def admin_errors(emulator: str = "the emulator") -> Iterator[None]:
    """An admin API's refusal or silence, as the one-line failure of the command."""
    from etl_harness.inspector.admin import AdminRefused, AdminUnavailable

    try:
        yield
    except AdminRefused as err:
        raise fail(f"{emulator} refused: {err}") from err
    except AdminUnavailable as err:
        raise fail(f"no answer from {emulator}'s admin API at {err}") from err


def _fraction(help_text: str) -> Any:
    """A fault's fraction option (0-1, checked by `Faults.parse` with the emulator's words)."""
    return typer.Option(metavar="F", help=help_text)


def register(emulators: typer.Typer) -> None:
    """Add `faults` to the `etl emulators` group."""

    @emulators.command("faults")
    def faults_command(
        subscription: Annotated[
            str | None,
            typer.Argument(help="A subscription (name in the project, or its path); none: list."),
        ] = None,
        duplicate: Annotated[str | None, _fraction("Fraction of deliveries sent twice.")] = None,
        delay_ms: Annotated[
            str | None,
            typer.Option(metavar="LO,HI", help="Hold messages back LO-HI ms (all, or a fraction)."),
        ] = None,
        delay_fraction: Annotated[
            str | None, _fraction("Fraction of messages --delay-ms holds.")
        ] = None,
        shuffle: Annotated[
            bool, typer.Option("--shuffle", help="Reorder and defer messages across pulls.")
        ] = False,
        push_error: Annotated[
            str | None, _fraction("Fraction of push answers replaced by a failure.")
        ] = None,
        early_redelivery: Annotated[
            str | None, _fraction("Fraction of leases ended at the next pull.")
        ] = None,
        transient_ack_failure: Annotated[
            str | None,
            typer.Option(metavar="F", help="Fraction of ack ids failing once (exactly-once subs)."),
        ] = None,
        seed: Annotated[
            str | None, typer.Option(metavar="N", help="Same seed, same faults: to replay.")
        ] = None,
        off: Annotated[bool, typer.Option("--off", help="Turn the faults off.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Set, show or turn off a subscription's faults (our emulator only); no SUBSCRIPTION:
        every subscription with faults, and the counts they fired."""
        from etl_harness.cli.output import print_json
        from etl_harness.inspector.admin import AdminApi

        local = configured()
        project = local.settings.project
        options = FaultOptions(
            duplicate, delay_ms, delay_fraction, shuffle, push_error, early_redelivery, seed,
            transient_ack_failure,
        )  # fmt: skip
        try:
            path, faults = requested(subscription, off, options, project)
        except BadOptions as err:
            raise fail(str(err), 2) from err
        host = admin_host(local)
        if host is None:
            raise fail(
                "no Pub/Sub admin API: set ETL_PUBSUB_ADMIN_HOST (our emulator's --admin-port; "
                "Google's emulator has none) or start them with `etl emulators up`",
                2,
            )
        admin = AdminApi(host, timeout=10)
        with admin_errors():
            if path is None:
                statuses = admin.faults(project)
                answer: Any = {"faults": statuses}
            elif off:
                answer = admin.clear_faults(path)
            elif faults is not None:
                answer = admin.set_faults(path, faults.as_json())
            else:
                answer = admin.subscription_faults(path)
        if as_json:
            print_json(answer)
            return
        for status in answer["faults"] if path is None else [answer]:
            typer.echo(status_line(status, project))
