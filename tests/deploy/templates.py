"""What `serverless package` produced for one stage, and the names the deployment tests share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STAGES = ("dev", "test", "prod")
PROJECT = "local-project"
SERVERLESS_JS = REPO / "node_modules" / "serverless" / "bin" / "serverless.js"
# What the Cloud Functions zip is built from, plus the deployment configuration itself.
SERVICE_FILES = ("serverless.yml", "package.json", "main.py", "requirements.txt")
SERVICE_DIRS = ("deploy", "etl", "etl_core", "etl_harness")
"""`etl_harness` is copied too: the zip must leave it out by itself (serverless.yml's patterns)."""


@dataclass(frozen=True)
class Packaged:
    """What `serverless package --stage <stage>` wrote."""

    stage: str
    create: dict[str, Any]
    update: dict[str, Any]
    update_text: str
    zip_names: frozenset[str]
    zip_texts: Mapping[str, str]
    """The text of every `.py` file and of `requirements.txt` in the zip."""

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.update["resources"] if r["type"] == resource_type]

    def functions(self) -> dict[str, dict[str, Any]]:
        """Cloud Functions by deployed name (`etlservice-<stage>-<key>`), properties only."""
        return {
            r["name"]: r["properties"]
            for r in self.resources("gcp-types/cloudfunctions-v1:projects.locations.functions")
        }
