"""`etl --help` must not pay for the Google clients, Flask or matplotlib: the CLI module imports
them inside the commands that use them. Checked in a fresh interpreter (this one has them)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "google.api_core",
    "google.cloud.pubsub",
    "google.cloud.bigtable",
    "google.protobuf",
    "grpc",
    "flask",
    "werkzeug",
    "waitress",
    "matplotlib",
    "structlog",
)
"""Not bare `google` or `google.cloud`: a namespace package's `.pth` file loads them at startup."""
LOADED = f"sorted(m for m in sys.modules if m.startswith({HEAVY!r}))"


def test_importing_the_cli_loads_no_client_library() -> None:
    probe = f"import sys, etl_harness.cli.app\nprint({LOADED})"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_help_loads_no_client_library_either() -> None:
    probe = (
        "import sys\n"
        "from etl_harness.cli.app import app\n"
        "try:\n"
        "    app(['--help'], prog_name='etl')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print({LOADED}, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert "Usage: etl" in result.stdout
    assert result.stderr.strip() == "[]"
