"""Authenticated push as Google documents it ("Authenticate push subscriptions"): a push
subscription with `oidc_token` sends `Authorization: Bearer <JWT>`, RS256, `iss`
https://accounts.google.com, `aud` the audience (the endpoint URL when none is set), the service
account's `email`, `email_verified`, `sub`, `iat` and `exp` an hour later; a consumer verifies it
with google-auth. Against our emulator the certificates are its own (admin API), the rest is
production's code path. Google's Java emulator sends no token at all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.auth.transport import requests as auth_requests
from google.cloud import pubsub_v1
from google.oauth2 import id_token
from google.pubsub_v1.types import PushConfig, RetryPolicy
from werkzeug.serving import make_server

from etl_harness.emulators.pair import Hosts
from etl_harness.inspector.admin import AdminApi
from etl_harness.push_auth import PushAuth, PushAuthRefused, emulator_certs_url, require
from tests.e2e.sandbox import delete_subscription
from tests.e2e.test_parity_pubsub import eventually

pytestmark = [
    pytest.mark.parity,
    pytest.mark.not_on_cloud("push to an endpoint on this machine"),
    pytest.mark.official_lacks("the Java emulator sends no Authorization header on push"),
]

ACCOUNT = "pusher@local-project.iam.gserviceaccount.com"
AUDIENCE = "https://events.example/push"


Seen = list[tuple[str, int]]
"""Each push request's `Authorization` header and the status answered, in arrival order."""


def function(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A push endpoint that acknowledges whatever reaches it."""
    start_response("204 No Content", [])
    return []


@pytest.fixture
def certs_url(etl_emulator_hosts: Hosts) -> str:
    assert etl_emulator_hosts.admin, "our emulator serves its certificates on its admin API"
    return emulator_certs_url(etl_emulator_hosts.admin)


@pytest.fixture
def endpoint(etl_emulators: Any, certs_url: str) -> Iterator[tuple[str, Seen]]:
    """`function` behind `push_auth.require` (tokens for AUDIENCE only), as a Cloud Run service
    requiring authentication; listens where the emulator reaches it."""
    guarded = require(function, PushAuth(AUDIENCE, certs_url))
    seen: Seen = []

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: Any, *rest: Any) -> Any:
            seen.append((environ.get("HTTP_AUTHORIZATION", ""), int(status.split()[0])))
            return start_response(status, headers, *rest)

        return guarded(environ, start)

    server = make_server(etl_emulators.settings.functions_host, 0, recording, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_port}/push", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def push_sub(
    etl_subscriber: pubsub_v1.SubscriberClient,
    etl_gcp_project: str,
    etl_unique_name: Callable[[str], str],
    topic: str,
    endpoint: tuple[str, Seen],
) -> Iterator[Callable[..., str]]:
    """`push_sub(url, oidc_token=...)`: a push subscription of `topic`, quick retries; deleted
    before `endpoint` closes (see `PubSubSandbox.close`: it would push on to a port reused)."""
    made: list[str] = []

    def make(url: str, **push: Any) -> str:
        path = etl_subscriber.subscription_path(etl_gcp_project, etl_unique_name("sub"))
        retry = RetryPolicy(minimum_backoff={"seconds": 0}, maximum_backoff={"seconds": 1})
        config = PushConfig(push_endpoint=url, **push)
        etl_subscriber.create_subscription(
            request={
                "name": path,
                "topic": topic,
                "ack_deadline_seconds": 10,
                "push_config": config,
                "retry_policy": retry,
            }
        )
        made.append(path)
        return path

    yield make
    for path in made:
        delete_subscription(etl_subscriber, path)


def bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    assert scheme == "Bearer"
    assert token
    return token


@pytest.fixture
def first_push(
    etl_publisher: pubsub_v1.PublisherClient,
    topic: str,
    push_sub: Callable[..., str],
    endpoint: tuple[str, Seen],
) -> Callable[..., tuple[str, str, int]]:
    """`first_push(**push_config)`: a push subscription to the endpoint, one message published;
    the endpoint's URL, and the `Authorization` header and status of the first request."""

    def push(**push_config: Any) -> tuple[str, str, int]:
        url, seen = endpoint
        push_sub(url, **push_config)
        etl_publisher.publish(topic, b"pushed").result(timeout=30)
        eventually(lambda: _at_least(seen, 1))
        header, code = seen[0]
        return url, header, code

    return push


def test_a_push_with_oidc_token_carries_a_token_google_auth_verifies(
    first_push: Callable[..., tuple[str, str, int]], certs_url: str
) -> None:
    oidc = PushConfig.OidcToken(service_account_email=ACCOUNT, audience=AUDIENCE)
    _, header, code = first_push(oidc_token=oidc)

    claims = id_token.verify_token(
        bearer(header), auth_requests.Request(), audience=AUDIENCE, certs_url=certs_url
    )
    assert code == 204
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == ACCOUNT
    assert claims["email_verified"] is True
    assert claims["sub"].isdigit()
    assert claims["exp"] - claims["iat"] == 3600


def test_without_an_audience_the_token_is_for_the_push_endpoint(
    first_push: Callable[..., tuple[str, str, int]], certs_url: str
) -> None:
    url, header, _ = first_push(oidc_token=PushConfig.OidcToken(service_account_email=ACCOUNT))

    request = auth_requests.Request()
    claims = id_token.verify_token(bearer(header), request, audience=url, certs_url=certs_url)
    assert claims["aud"] == url


def test_a_verifying_function_refuses_a_token_for_another_audience_until_it_is_fixed(
    etl_publisher: pubsub_v1.PublisherClient,
    etl_subscriber: pubsub_v1.SubscriberClient,
    topic: str,
    push_sub: Callable[..., str],
    endpoint: tuple[str, Seen],
) -> None:
    url, seen = endpoint
    wrong = PushConfig.OidcToken(service_account_email=ACCOUNT, audience="https://elsewhere")
    sub = push_sub(url, oidc_token=wrong)
    etl_publisher.publish(topic, b"refused, then accepted").result(timeout=30)
    eventually(lambda: _at_least([s for s in seen if s[1] == 401], 2))

    right = PushConfig.OidcToken(service_account_email=ACCOUNT, audience=AUDIENCE)
    etl_subscriber.modify_push_config(
        subscription=sub, push_config=PushConfig(push_endpoint=url, oidc_token=right)
    )
    eventually(lambda: _at_least([s for s in seen if s[1] == 204], 1))


def test_no_oidc_token_no_authorization_header(
    first_push: Callable[..., tuple[str, str, int]],
) -> None:
    _, header, code = first_push()

    assert (header, code) == ("", 401)


@pytest.mark.parametrize(
    ("request_body", "refusal"),
    [
        ({"audience": "https://elsewhere"}, "audience"),
        ({"audience": AUDIENCE, "expired": True}, "expired"),
        ({"audience": AUDIENCE, "forged": True}, "signature"),
    ],
)
def test_tokens_on_demand_that_google_auth_refuses(
    etl_emulator_hosts: Hosts, certs_url: str, request_body: dict[str, Any], refusal: str
) -> None:
    admin = AdminApi(etl_emulator_hosts.admin, timeout=10)
    token = admin.push_token({"service_account_email": ACCOUNT, **request_body})

    with pytest.raises(ValueError, match=f"(?i){refusal}"):
        id_token.verify_token(
            token, auth_requests.Request(), audience=AUDIENCE, certs_url=certs_url
        )
    with pytest.raises(PushAuthRefused) as refused:
        PushAuth(AUDIENCE, certs_url).check(f"Bearer {token}")
    assert refused.value.status == 401


def test_an_account_not_allowed_is_forbidden(etl_emulator_hosts: Hosts, certs_url: str) -> None:
    admin = AdminApi(etl_emulator_hosts.admin, timeout=10)
    token = admin.push_token({"service_account_email": ACCOUNT, "audience": AUDIENCE})
    other = frozenset({"other@p.iam.gserviceaccount.com"})
    allowed = PushAuth(AUDIENCE, certs_url, allowed_emails=other)

    with pytest.raises(PushAuthRefused) as refused:
        allowed.check(f"Bearer {token}")
    assert refused.value.status == 403
    assert PushAuth(AUDIENCE, certs_url).check(f"bearer {token}")["email"] == ACCOUNT


def _at_least(items: list[Any], count: int) -> None:
    assert len(items) >= count, f"{len(items)} of {count}: {json.dumps(items)[:300]}"
