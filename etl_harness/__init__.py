"""The local tooling: the `etl` CLI, the emulators, etl.toml, the inspector and the pytest plugin.

Never deployed (an optional extra, `etl-pipeline[harness]`); it imports `etl`, never the reverse.
"""
