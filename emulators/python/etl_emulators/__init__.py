"""The emulators' binaries, shipped as a platform wheel (`etl-pipeline-emulators`) the way ruff
and uv ship theirs: `etl_harness` finds them here when it runs outside the checkout."""

from __future__ import annotations

from pathlib import Path

BIN_DIR = Path(__file__).resolve().parent / "bin"
"""`pubsub-emulator`, `bigtable-emulator` and `healthcheck`, built by `emulators/build.sh`."""
