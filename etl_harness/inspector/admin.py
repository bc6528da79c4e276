"""Client of our Pub/Sub emulator's HTTP admin API (backlogs, recent messages).

Google's own emulator has no such API, so every failure is one `AdminUnavailable` that the page
shows as "n/a" instead of failing. Standard library only; proxies are bypassed (the API is local).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from etl_core import EtlError

NOT_AVAILABLE = "admin API not available"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AdminUnavailable(EtlError, RuntimeError):
    """The admin API is not configured, does not answer, or answers something unexpected."""


@dataclass(frozen=True, slots=True)
class AdminApi:
    """`GET /v1/subscriptions` and `GET /v1/messages` of the emulator at `host` (`host:port`)."""

    host: str | None
    timeout: float = 2.0

    def backlogs(self, project: str) -> dict[str, int]:
        """Subscription path → messages published to it and not yet acknowledged."""
        body = self._get("/v1/subscriptions", {"project": project})
        return {s["name"]: int(s["backlog"]) for s in body.get("subscriptions", [])}

    def messages(self, project: str, limit: int, topic: str | None = None) -> list[dict[str, Any]]:
        """The project's most recent messages (on `topic`, else any), newest first."""
        query = {"project": project, "limit": str(limit)} | ({"topic": topic} if topic else {})
        body = self._get("/v1/messages", query)
        messages: list[dict[str, Any]] = body.get("messages", [])
        return messages

    def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        if not self.host:
            raise AdminUnavailable("ETL_PUBSUB_ADMIN_HOST is not set")
        url = f"http://{self.host}{path}?{urlencode(query)}"
        try:
            with _DIRECT.open(url, timeout=self.timeout) as response:
                body = json.load(response)
        except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts; bad JSON
            raise AdminUnavailable(f"{self.host}: {err}") from err
        if not isinstance(body, dict):
            raise AdminUnavailable(f"{self.host}: expected a JSON object from {path}")
        return body
