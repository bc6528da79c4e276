"""The `etl` command: its app, the commands behind it, and how their output looks."""
