"""Hypothesis profiles, loaded before any test module: `ci` under `CI=true`, else `dev`.

- `ci`: derandomized (a failure replays on any machine), no deadline and no `too_slow` /
  `data_too_large` health checks: CI shares two cores with whatever else runs, and a slow
  machine is not a failing test. No example database: every run starts from the same seed.
- `dev`: Hypothesis's defaults plus its example database (`.hypothesis/`), so a failure found
  locally is tried first on the next run.

`HYPOTHESIS_PROFILE=ci` selects a profile explicitly (e.g. to reproduce CI locally);
`HYPOTHESIS_PROFILE=thorough` runs 2,000 examples per property when hunting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", database=DirectoryBasedExampleDatabase(".hypothesis/examples"))
settings.register_profile("thorough", parent=settings.get_profile("dev"), max_examples=2000)


def profile_name(environ: Mapping[str, str] = os.environ) -> str:
    """The profile for this environment: `HYPOTHESIS_PROFILE`, else `ci` when `CI` is true."""
    if chosen := environ.get("HYPOTHESIS_PROFILE"):
        return chosen
    return "ci" if environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"


settings.load_profile(profile_name())
