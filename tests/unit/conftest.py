"""Hypothesis profiles, loaded before any test module: `ci` under `CI=true`, else `dev`.

Both have no deadline and no `too_slow` / `data_too_large` health checks: the tests run on
laptops and CI machines busy with other work (two cores shared with builds, the e2e suite,
browsers), and a slow machine is not a failing test. Speed is measured in benchmarks, never
asserted here. What keeps generation cheap is the strategies themselves (bounded text and
containers: `tests/unit/core/core_strategies.py`), not a health check.

- `ci`: derandomized (a failure replays on any machine), no example database: every run starts
  from the same seed.
- `dev`: random, with Hypothesis's example database (`.hypothesis/`), so a failure found locally
  is tried first on the next run.

`HYPOTHESIS_PROFILE=ci` selects a profile explicitly (e.g. to reproduce CI locally);
`HYPOTHESIS_PROFILE=thorough` runs 2,000 examples per property when hunting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

UNTIMED = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""What every profile shares: nothing that depends on how busy the machine is."""

settings.register_profile("ci", UNTIMED, derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "dev", UNTIMED, database=DirectoryBasedExampleDatabase(".hypothesis/examples")
)
settings.register_profile("thorough", parent=settings.get_profile("dev"), max_examples=2000)


def profile_name(environ: Mapping[str, str] = os.environ) -> str:
    """The profile for this environment: `HYPOTHESIS_PROFILE`, else `ci` when `CI` is true."""
    if chosen := environ.get("HYPOTHESIS_PROFILE"):
        return chosen
    return "ci" if environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"


settings.load_profile(profile_name())
