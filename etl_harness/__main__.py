"""`python -m etl_harness` is the `etl` command."""

from etl_harness.cli.app import app

app(prog_name="etl")
