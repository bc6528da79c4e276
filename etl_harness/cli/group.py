"""The click group behind `etl`: every failure that is not a bug leaves through `errors`, and
help shows flags without a `<bool>` type."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer import _click as click
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from etl_harness.cli import errors


class EtlGroup(TyperGroup):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name, complete_var, windows_expand_args, **extra)
        if not standalone_mode:
            return code
        sys.exit(code)

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        windows_expand_args: bool,
        **extra: Any,
    ) -> int:
        try:
            done = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except NoArgsIsHelpError as err:
            # The error is built from `ctx.get_help()`, which typer's rich formatting prints as
            # it renders (returning ""): print what is left, or the help would show twice.
            if text := err.format_message().strip():
                click.echo(text)
            return errors.USAGE
        except click.ClickException as err:
            errors.say(_usage_line(err))
            return err.exit_code
        except typer.Abort:
            errors.say("aborted")
            return errors.FAILED
        except Exception as err:
            known = errors.classify(err)
            if known is None:
                raise
            errors.say(known[0])
            return known[1]
        return done if isinstance(done, int) else 0

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            quiet_flags(command, ctx)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        quiet_flags(self, ctx)
        super().format_help(ctx, formatter)


def _usage_line(err: click.ClickException) -> str:
    message = err.format_message().replace("Value error, ", "")
    ctx = getattr(err, "ctx", None)
    if isinstance(err, UsageError) and ctx is not None:
        return f"{message} (see `{ctx.command_path} --help`)"
    return message


def quiet_flags(command: click.Command, ctx: click.Context) -> None:
    """A flag takes no value: show none in help (typer would print `<bool>`)."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
