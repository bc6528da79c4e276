"""A function instance builds its Runtime once, however many first requests arrive together
(a gen2 instance serves requests concurrently)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from etl import config
from etl.config import Settings
from etl.entrypoints import functions

REQUESTS = 4


def test_concurrent_first_requests_build_one_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Settings] = []
    all_checked = threading.Barrier(REQUESTS)

    def from_env(environ: Mapping[str, str]) -> Settings:
        # Every request reads the environment before any builds, if the code lets them: the
        # unlocked check then let each of them through. Under the lock only one reads it, and
        # the barrier gives up.
        with contextlib.suppress(threading.BrokenBarrierError):
            all_checked.wait(timeout=1)
        return Settings(stage="test")

    def build(settings: Settings) -> tuple[Any, None, None]:
        built.append(settings)
        return object(), None, None

    monkeypatch.setattr(functions, "_wired", None)
    monkeypatch.setattr(config, "from_env", from_env)
    monkeypatch.setattr(functions.wiring, "build", build)
    answers: list[tuple[Settings, Any]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(functions.wired())) for _ in range(REQUESTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len(answers) == REQUESTS
    assert all(answer is answers[0] for answer in answers)


def test_configure_replaces_what_the_first_request_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(functions, "_wired", None)
    monkeypatch.setattr(functions.wiring, "build", lambda settings: (object(), None, None))
    rt = functions.configure(Settings(stage="prod"))
    assert functions.wired() == (Settings(stage="prod"), rt)
