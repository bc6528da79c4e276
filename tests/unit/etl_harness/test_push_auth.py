"""etl_harness.push_auth without a network: what is refused before any certificate is needed.
(Tokens themselves are checked against our emulator's in tests/e2e/test_parity_push_auth.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client

from etl_harness.push_auth import (
    PushAuth,
    PushAuthRefused,
    PushAuthUnavailable,
    emulator_certs_url,
    require,
)

UNREACHABLE = "http://127.0.0.1:9/v1/push-auth/certs"  # the discard port: nothing answers


@given(header=st.text(max_size=40).filter(lambda h: not h.lower().startswith("bearer ")))
def test_any_header_but_a_bearer_token_is_refused_with_401(header: str) -> None:
    with pytest.raises(PushAuthRefused) as refused:
        PushAuth("aud", UNREACHABLE).check(header)
    assert refused.value.status == 401


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc"])
def test_a_missing_or_empty_token_is_refused_with_401(header: str | None) -> None:
    with pytest.raises(PushAuthRefused, match="without a bearer token"):
        PushAuth("aud", UNREACHABLE).check(header)


def test_certificates_that_cannot_be_fetched_make_it_unavailable_not_refused() -> None:
    with pytest.raises(PushAuthUnavailable, match="cannot fetch"):
        PushAuth("aud", UNREACHABLE).check("Bearer a.b.c")


def test_the_emulators_certificates_are_on_its_admin_api() -> None:
    assert emulator_certs_url("127.0.0.1:8087") == "http://127.0.0.1:8087/v1/push-auth/certs"


def _app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
    start_response("204 No Content", [])
    return []


def test_require_answers_401_without_a_token_and_never_calls_the_app() -> None:
    client = Client(require(_app, PushAuth("aud", UNREACHABLE)))
    response = client.post("/", data=b"{}")
    assert response.status_code == 401
    assert b"without a bearer token" in response.data


def test_require_answers_503_while_the_certificates_cannot_be_fetched() -> None:
    client = Client(require(_app, PushAuth("aud", UNREACHABLE)))
    response = client.post("/", data=b"{}", headers={"Authorization": "Bearer a.b.c"})
    assert response.status_code == 503
