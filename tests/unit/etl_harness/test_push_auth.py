"""etl_harness.push_auth without a network: what is refused before any certificate is needed.
(Tokens themselves are checked against our emulator's in tests/e2e/test_parity_push_auth.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_harness.push_auth import PushAuth, PushAuthRefused, PushAuthUnavailable, emulator_certs_url

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
