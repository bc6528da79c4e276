"""Writes the Terraform's per-stage data from the registry: for each stage,
deploy/terraform/stage/stages/<stage>.pipeline.json is `etl.pipeline.manifest(stage, ...)` without
the project (Terraform takes that as a variable). The Terraform reads nothing else about the
pipeline; tests/deploy/test_terraform.py fails when a committed file is stale.

    python deploy/terraform_stages.py           # after a change to etl/pipeline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STAGE_DIR = REPO / "deploy" / "terraform" / "stage" / "stages"
STAGES = ("dev", "test", "prod")


def stage_data(stage: str) -> dict[str, Any]:
    """The registry's manifest of `stage`, less the project."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # run as a script: etl/ is importable from the checkout
    from etl.pipeline import manifest

    data = manifest(stage, "unused")
    del data["project"]
    return data


def render(stage: str) -> str:
    return json.dumps(stage_data(stage), indent=2) + "\n"


def path(stage: str) -> Path:
    return STAGE_DIR / f"{stage}.pipeline.json"


def main() -> int:
    for stage in STAGES:
        path(stage).write_text(render(stage))
        print(path(stage).relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
