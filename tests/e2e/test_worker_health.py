"""The worker's health check answers what Cloud Run probes: 200 while the pull loop lives, 503
once it died, 404 for anything else."""

from __future__ import annotations

import http.client

import pytest

from etl.entrypoints import health


def status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/", "/healthz", "/healthz?probe=1"])
def test_the_health_check_follows_the_pull_loop(path: str) -> None:
    alive = [True]
    with health.serving("127.0.0.1", 0, lambda: alive[0]) as server:
        port = server.server_address[1]
        assert status(port, path) == 200
        alive[0] = False
        assert status(port, path) == 503


def test_other_paths_are_not_found() -> None:
    with health.serving("127.0.0.1", 0, lambda: True) as server:
        assert status(server.server_address[1], "/metrics") == 404
