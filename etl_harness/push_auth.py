"""Check the OIDC token Pub/Sub puts on push requests, as Cloud Run does before a request reaches
the function.

A push subscription with `oidc_token` (service account, audience) sends `Authorization: Bearer
<JWT>` signed by Google; our Pub/Sub emulator signs with a key of its own and serves its
certificates on its admin API (`/v1/push-auth/certs`, the format of Google's
`https://www.googleapis.com/oauth2/v1/certs`). So the check is google-auth's, in production and
here alike; only the certificates' address differs. Cloud Run answers 401 to a request without a
valid token for its audience and 403 to a valid token of an account not allowed to invoke it;
`PushAuth.check` decides the same and `PushAuthRefused.status` carries the code.

`require(app, auth)` puts the check in front of a WSGI app (a functions-framework app, as `etl
serve` runs them): the app sees only requests whose token `auth` accepts. `etl serve
--require-push-auth` (or `oidc_token` on a function's subscription in etl.toml) puts it in front
of each function, with a `Requirement` per function.

The certificates are fetched once and again only when a token names a key they lack (an emulator
restarted with a new key), not on every request as `google.oauth2.id_token.verify_token` does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.auth import exceptions as auth_exceptions
from google.auth import jwt
from google.auth.transport import requests as auth_requests

from etl_core import EtlError

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
CLOCK_SKEW_SECONDS = 10
"""Tolerated difference between the signer's clock and ours (google-auth's default is 0)."""


class PushAuthRefused(EtlError, PermissionError):
    """A push request without a valid token (status 401) or from an account not allowed (403)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PushAuthUnavailable(EtlError, RuntimeError):
    """The certificates cannot be fetched: nothing can be verified, answer 503 so Pub/Sub
    redelivers once they can."""


def emulator_certs_url(admin_host: str) -> str:
    """The certificates of our Pub/Sub emulator whose admin API is at `admin_host` (host:port)."""
    return f"http://{admin_host}/v1/push-auth/certs"


def serve_account(project: str) -> str:
    """The service account `etl serve --require-push-auth` has push subscriptions sign as when
    etl.toml names none (`oidc_token` on the function's subscription)."""
    return f"etl-serve-push@{project}.iam.gserviceaccount.com"


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a served function requires of push requests, as a Cloud Run service that requires
    authentication: a token for `audience`, of `service_account_email` (the one account allowed
    to invoke it: 403 for another), signed by a key of `certs_url`. Plain values, so `etl serve`
    hands it to the processes it starts."""

    audience: str
    service_account_email: str
    certs_url: str

    def auth(self) -> PushAuth:
        return PushAuth(self.audience, self.certs_url, frozenset({self.service_account_email}))


def fetch_certs(certs_url: str) -> dict[str, str]:
    """The certificate list at `certs_url` (kid → PEM certificate), through google-auth's
    transport; `PushAuthUnavailable` when nothing answers there with one."""
    request = auth_requests.Request()
    try:
        response = request(certs_url, method="GET", timeout=10)
    except auth_exceptions.TransportError as exc:
        raise PushAuthUnavailable(f"cannot fetch {certs_url}: {exc}") from None
    if response.status != 200:
        raise PushAuthUnavailable(f"{certs_url} answered {response.status}")
    try:
        certs = json.loads(response.data)
    except ValueError:
        raise PushAuthUnavailable(f"{certs_url} answered no JSON") from None
    if not isinstance(certs, dict) or not certs:
        raise PushAuthUnavailable(f"{certs_url} answered no certificates")
    return {str(kid): str(pem) for kid, pem in certs.items()}


@dataclass
class PushAuth:
    """Accepts push requests whose token is for `audience`, signed by a key of `certs_url`, issued
    by Google's issuer, for a verified email among `allowed_emails` (empty: any account)."""

    audience: str
    certs_url: str = GOOGLE_CERTS_URL
    allowed_emails: frozenset[str] = frozenset()
    _certs: Mapping[str, str] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def check(self, authorization: str | None) -> Mapping[str, Any]:
        """The token's claims, from an `Authorization` header's value; `PushAuthRefused` otherwise
        (`PushAuthUnavailable` when the certificates cannot be fetched)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PushAuthRefused("push request without a bearer token", 401)
        claims = self._decode(token.strip())
        if claims.get("iss") not in ISSUERS:
            raise PushAuthRefused(f"token issued by {claims.get('iss')!r}, not Google", 401)
        email = claims.get("email")
        if claims.get("email_verified") is not True or not isinstance(email, str):
            raise PushAuthRefused("token without a verified email", 401)
        if self.allowed_emails and email not in self.allowed_emails:
            raise PushAuthRefused(f"{email} may not push here", 403)
        return claims

    def _decode(self, token: str) -> Mapping[str, Any]:
        certs = self._certs or self._fetch()
        try:
            return self._verify(token, certs)
        except PushAuthRefused:
            if self._header_kid(token) in certs:
                raise
        return self._verify(token, self._fetch())  # a key we have not seen: maybe a new one

    def _verify(self, token: str, certs: Mapping[str, str]) -> Mapping[str, Any]:
        try:
            claims: Mapping[str, Any] = jwt.decode(  # type: ignore[no-untyped-call]
                token,
                certs=dict(certs),
                audience=self.audience,
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise PushAuthRefused(f"invalid push token: {exc}", 401) from None
        return claims

    @staticmethod
    def _header_kid(token: str) -> object:
        try:
            header: Mapping[str, Any] = jwt.decode_header(token)  # type: ignore[no-untyped-call]
        except ValueError:
            return None
        return header.get("kid")

    def _fetch(self) -> Mapping[str, str]:
        certs = fetch_certs(self.certs_url)
        with self._lock:
            self._certs = certs
        return certs


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def require(app: WsgiApp, auth: PushAuth) -> WsgiApp:
    """`app` behind `auth`: a request without a valid token gets 401, one from an account not
    allowed 403 (both acked as failures by Pub/Sub, which redelivers), and 503 while the
    certificates cannot be fetched; the others reach `app` unchanged."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            auth.check(environ.get("HTTP_AUTHORIZATION"))
        except PushAuthRefused as refused:
            return _answer(start_response, refused.status, str(refused))
        except PushAuthUnavailable as unavailable:
            return _answer(start_response, 503, str(unavailable))
        return app(environ, start_response)

    return guarded


def _answer(start_response: Callable[..., Any], status: int, reason: str) -> list[bytes]:
    phrase = {401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}[status]
    body = f"{reason}\n".encode()
    start_response(
        f"{status} {phrase}", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]
