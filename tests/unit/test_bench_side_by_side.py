"""The side-by-side bench's own logic, with real processes and a real HTTP endpoint: memory is
summed over an emulator's process tree, and a redelivered push is counted once."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from bench import push_endpoint
from bench.side_by_side import MB, tree_rss

CHILD = "b = bytearray(b'x') * (64 << 20); print('ready', flush=True); input()"
"""Writes 64 MiB (resident, not lazily zeroed), says so, then waits for its stdin to close."""

PARENT = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD!r}])"
"""A wrapper that only starts the child, as a launcher script starts a JVM."""


@pytest.fixture
def wrapper_with_a_64_mib_child() -> Iterator[psutil.Process]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert proc.stdout.readline() == b"ready\n"
    yield psutil.Process(proc.pid)
    proc.stdin.close()  # the child's input() ends, then the parent's run()
    proc.wait(timeout=30)
    proc.stdout.close()


def test_the_rss_of_a_process_tree_includes_what_its_children_hold(
    wrapper_with_a_64_mib_child: psutil.Process,
) -> None:
    parent_alone = wrapper_with_a_64_mib_child.memory_info().rss
    assert tree_rss(wrapper_with_a_64_mib_child.pid) - parent_alone >= 64 * MB


def test_the_push_endpoint_answers_204_and_counts_a_redelivered_message_once() -> None:
    with push_endpoint.serving(expected=2) as endpoint:
        connection = http.client.HTTPConnection(push_endpoint.HOST, endpoint.port, timeout=10)
        try:
            statuses = []
            for message_id in ("1", "1", "2"):
                body = json.dumps({"message": {"data": "", "messageId": message_id}})
                connection.request("POST", "/push", body=body)
                response = connection.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            connection.close()
        assert statuses == [204, 204, 204]
        assert endpoint.received == 2
        assert endpoint.done.is_set()
