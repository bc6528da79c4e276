"""Client of our Pub/Sub emulator's HTTP admin API (backlogs, recent messages, faults, export,
push tokens).

Google's own emulator has no such API, so every failure is one `AdminUnavailable` that the page
shows as "n/a" instead of failing; `AdminRefused`, a kind of it, is an answer with an error status
(a bad faults body, an unknown subscription), for the CLI to tell apart. Standard library only;
proxies are bypassed (the API is local).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from etl_core import EtlError

NOT_AVAILABLE = "admin API not available"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AdminUnavailable(EtlError, RuntimeError):
    """The admin API is not configured, does not answer, or answers something unexpected."""


class AdminRefused(AdminUnavailable):
    """The admin API answered with an error status; the message is its `error`."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class AdminApi:
    """The admin API of the emulator at `host` (`host:port`)."""

    host: str | None
    timeout: float = 2.0

    def subscriptions(self, project: str) -> list[dict[str, Any]]:
        """The project's subscriptions: `name`, `topic` (paths), `backlog`, `push_endpoint`,
        `faults` and `faults_fired`."""
        body = self._get("/v1/subscriptions", {"project": project})
        subscriptions: list[dict[str, Any]] = body.get("subscriptions", [])
        return subscriptions

    def backlogs(self, project: str) -> dict[str, int]:
        """Subscription path → messages published to it and not yet acknowledged."""
        return {s["name"]: int(s["backlog"]) for s in self.subscriptions(project)}

    def messages(self, project: str, limit: int, topic: str | None = None) -> list[dict[str, Any]]:
        """The project's most recent messages (on `topic`, else any), newest first."""
        query = {"project": project, "limit": str(limit)} | ({"topic": topic} if topic else {})
        body = self._get("/v1/messages", query)
        messages: list[dict[str, Any]] = body.get("messages", [])
        return messages

    def faults(self, project: str) -> list[dict[str, Any]]:
        """The fault status of every subscription of `project` that has or had faults."""
        statuses: list[dict[str, Any]] = self._get("/v1/faults", {"project": project})["faults"]
        return statuses

    def subscription_faults(self, subscription: str) -> dict[str, Any]:
        """`subscription` (`projects/P/subscriptions/S`): its faults, counts fired and held."""
        return self._request("GET", _faults_path(subscription))

    def set_faults(self, subscription: str, faults: dict[str, Any]) -> dict[str, Any]:
        """Replace the subscription's faults by `faults` (the admin API's body); its status."""
        return self._request("PUT", _faults_path(subscription), body=faults)

    def clear_faults(self, subscription: str) -> dict[str, Any]:
        """Turn the subscription's faults off (counts are kept); its status."""
        return self._request("DELETE", _faults_path(subscription))

    def export(self, directory: str) -> dict[str, Any]:
        """`POST /v1/export?dir=DIR`: the emulator writes its state to DIR (absolute, its side)."""
        return self._request("POST", "/v1/export", {"dir": directory})

    def push_token(self, claims: dict[str, Any]) -> str:
        """A push token signed by the emulator: `service_account_email`, `audience`, and
        `expired` or `forged` for one a consumer must refuse (`POST /v1/push-auth/token`)."""
        return str(self._request("POST", "/v1/push-auth/token", body=claims)["token"])

    def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        return self._request("GET", path, query)

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if not self.host:
            raise AdminUnavailable("ETL_PUBSUB_ADMIN_HOST is not set")
        url = f"http://{self.host}{path}" + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _DIRECT.open(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as err:
            raise AdminRefused(_error_of(err), err.code) from err
        except urllib.error.URLError as err:
            raise AdminUnavailable(f"{self.host}: {err.reason}") from err
        except (OSError, ValueError) as err:  # timeouts; bad JSON
            raise AdminUnavailable(f"{self.host}: {err}") from err
        if not isinstance(answer, dict):
            raise AdminUnavailable(f"{self.host}: expected a JSON object from {path}")
        return answer


def _faults_path(subscription: str) -> str:
    parts = subscription.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "subscriptions":
        raise ValueError(f"not a subscription path: {subscription!r}")
    project, name = quote(parts[1], safe=""), quote(parts[3], safe="")
    return f"/v1/projects/{project}/subscriptions/{name}/faults"


def _error_of(err: urllib.error.HTTPError) -> str:
    """The `error` of an error answer, else its status line."""
    try:
        message = json.loads(err.read())["error"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{err.code} {err.reason}"
    return str(message)
