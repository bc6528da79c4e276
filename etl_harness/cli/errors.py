"""The CLI's one error path: an expected failure ends as one `error: …` line on stderr.

Exit status says what kind of failure it was: 2 for usage and configuration (the user can fix the
command line or the environment), 1 for a failure of the work itself. Anything not recognised
here is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

from etl_core import EtlError

USAGE = 2
FAILED = 1


class CliError(Exception):
    """A failure of the work, said in one line, with the fix where there is one."""

    code = FAILED

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message if fix is None else f"{message}; {fix}")


class UsageProblem(CliError):
    """The command line or the environment asks for something the CLI cannot do."""

    code = USAGE


def classify(error: BaseException) -> tuple[str, int] | None:
    """(line, exit status) for an expected failure; None for anything else (a bug)."""
    if isinstance(error, CliError):
        return str(error), error.code
    if isinstance(error, EtlError):
        # The project's typed errors: bad input or configuration (ValueError), a refusal
        # (PermissionError), else a failure of the work (an emulator, a backend).
        usage = isinstance(error, ValueError | PermissionError)
        return str(error), USAGE if usage else FAILED
    module = type(error).__module__
    if module.startswith("google.auth"):
        return (
            f"no Google Cloud credentials ({type(error).__name__}); "
            "`gcloud auth application-default login`, or use the emulators: "
            "`export $(etl emulators up)`",
            FAILED,
        )
    if module.startswith(("google.", "grpc")):
        first = (str(error).strip().splitlines() or [""])[0]
        return f"Pub/Sub or Bigtable answered {type(error).__name__}: {first}", FAILED
    return None


def say(line: str) -> None:
    """Print `error: line` on stderr, on one line."""
    sys.stderr.write(f"error: {' '.join(line.split())}\n")
    sys.stderr.flush()
