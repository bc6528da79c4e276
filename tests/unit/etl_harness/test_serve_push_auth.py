"""Which of `etl serve`'s functions require push tokens, and which token their subscriptions push
with (`etl_harness.serve.push_tokens`, `requirements`); without a network. Served end to end in
tests/e2e/test_serve_push_auth.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_harness.etl_toml import OidcToken, Subscription
from etl_harness.push_auth import PushAuthUnavailable, serve_account
from etl_harness.serve import push_tokens, requirements

UNREACHABLE = "http://127.0.0.1:9/v1/push-auth/certs"  # the discard port: nothing answers

tokens_or_none = st.none() | st.builds(
    OidcToken,
    st.just("declared@p.iam.gserviceaccount.com"),
    st.none() | st.just("https://declared.example"),
)


@given(declared=st.lists(tokens_or_none, min_size=1, max_size=5), required=st.booleans())
def test_a_function_gets_a_token_when_declared_or_required_for_its_url_unless_an_audience_is_set(
    declared: list[OidcToken | None], required: bool
) -> None:
    subs = [
        Subscription(f"s{i}", "t", function=f"f{i}", oidc_token=token)
        for i, token in enumerate(declared)
    ]
    urls = {f"f{i}": f"http://localhost:{1000 + i}" for i in range(len(declared))}

    tokens = push_tokens(subs, urls, "proj", required)

    for i, token in enumerate(declared):
        got = tokens.get(f"f{i}")
        if token is None and not required:
            assert got is None
            continue
        assert got is not None
        want = token or OidcToken(serve_account("proj"))
        assert got.service_account_email == want.service_account_email
        assert got.audience == (want.audience or urls[f"f{i}"])


def test_no_token_wanted_needs_no_emulator() -> None:
    assert requirements({}, None) == {}


def test_tokens_without_our_emulator_are_refused_saying_googles_sends_none() -> None:
    token = {"f": OidcToken("a@p.iam.gserviceaccount.com", "http://localhost:1")}
    with pytest.raises(PushAuthUnavailable, match="Google's emulator sends no token"):
        requirements(token, None)
    with pytest.raises(PushAuthUnavailable, match=r"cannot fetch .*Google's emulator sends no"):
        requirements(token, UNREACHABLE)
