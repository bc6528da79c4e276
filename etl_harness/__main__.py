"""`python -m etl_harness` is the `etl` command."""

from etl_harness.cli.script import main

main()
