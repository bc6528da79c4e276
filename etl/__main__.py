"""`python -m etl` is the `etl` command."""

from etl.cli import app

app(prog_name="etl")
