"""`etl serve --require-push-auth`: the served functions refuse push requests without a valid OIDC
token, as a Cloud Run service that does not allow unauthenticated calls, and their push
subscriptions carry `oidc_token`, so our Pub/Sub emulator signs each delivery. Tokens a function
must refuse come from the emulator on demand (`POST /v1/push-auth/token` on its admin API).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_harness.emulators.pair import ADMIN_ENV, Hosts
from etl_harness.inspector.admin import AdminApi
from etl_harness.push_auth import serve_account
from tests.e2e.cli import etl
from tests.e2e.faults import Rig, Served, base_url, simulation

pytestmark = pytest.mark.not_on_cloud("push to functions served on this machine")
ours = pytest.mark.official_lacks("the Java emulator signs no push tokens")

SERVICES = ("gate", "gate-north")
RECEIVER = "pubsub_receiver"
OTHER_ACCOUNT = "other@p.iam.gserviceaccount.com"
ETL_TOML = Path(__file__).resolve().parents[2] / "etl_harness" / "etl.toml"


def push(url: str, authorization: str | None, seed: int = 1) -> int:
    """POST one event as Pub/Sub's push body to `url`; the status answered."""
    (event,) = simulation(limit=1, seed=seed, services=SERVICES).events
    message = {"data": base64.b64encode(event.to_json()).decode(), "messageId": f"m{seed}"}
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = json.dumps({"message": message, "subscription": "projects/p/subscriptions/s"})
    request = urllib.request.Request(url, body.encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@ours
def test_functions_requiring_tokens_process_every_event_pushed_with_one_in_every_process(
    rig: Rig,
) -> None:
    sim = simulation(limit=300, seed=81, services=SERVICES)
    with rig.served("current", "--require-push-auth", "--processes", "2") as serve:
        rig.bus.publish_events(rig.settings.events_topic, sim.events)
        rig.wait_settled(sim.events, hourly=False)
        token = subscription_token(rig, serve, RECEIVER)

    rig.assert_exact(sim.events, hourly=False)
    assert token == (serve_account(rig.settings.project), base_url(serve, RECEIVER))
    serving = [r for r in serve.records if r.get("message") == "serving"]
    assert serving
    assert all(r["push_auth"] is True for r in serving)
    processed_by = {r["pid"] for r in serve.records if r.get("message") == "processed"}
    assert len(processed_by) == 2, "the instance verifies tokens too"


@ours
def test_a_function_requiring_tokens_refuses_wrong_expired_forged_missing_and_foreign_ones(
    rig: Rig, etl_emulator_hosts: Hosts
) -> None:
    admin = AdminApi(etl_emulator_hosts.admin, timeout=10)
    account = serve_account(rig.settings.project)
    with rig.served("current", "--require-push-auth") as serve:
        url, audience = serve.urls[RECEIVER], base_url(serve, RECEIVER)

        def token(**claims: object) -> str:
            made = admin.push_token({"service_account_email": account, "audience": audience,
                                     **claims})  # fmt: skip
            return f"Bearer {made}"

        refusals = {
            "none": push(url, None),
            "wrong audience": push(url, token(audience="https://elsewhere.example")),
            "expired": push(url, token(expired=True)),
            "forged": push(url, token(forged=True)),
            "another account": push(url, token(service_account_email=OTHER_ACCOUNT)),
        }
        accepted = push(url, token())

    assert refusals == {
        "none": 401, "wrong audience": 401, "expired": 401, "forged": 401, "another account": 403,
    }  # fmt: skip
    assert 200 <= accepted < 300


def test_without_the_option_functions_take_requests_without_a_token(rig: Rig) -> None:
    with rig.served("current") as serve:
        token = subscription_token(rig, serve, RECEIVER)
        status = push(serve.urls[RECEIVER], None)

    assert token is None
    assert 200 <= status < 300
    assert all(r["push_auth"] is False for r in serve.records if r.get("message") == "serving")


@ours
def test_etl_toml_oidc_token_on_a_functions_subscription_requires_it_for_that_function(
    rig: Rig, tmp_path: Path
) -> None:
    account = "invoker@{project}.iam.gserviceaccount.com"
    declared = f'function = "{RECEIVER}"\noidc_token = {{ service_account_email = "{account}", ' \
        'audience = "https://receiver.example" }'  # fmt: skip
    text = ETL_TOML.read_text().replace(f'function = "{RECEIVER}"', declared, 1)
    seed = tmp_path / "etl.toml"
    seed.write_text(text)
    sim = simulation(limit=40, seed=82, services=SERVICES)
    with rig.served("current", ETL_SEED_FILE=str(seed)) as serve:
        rig.bus.publish_events(rig.settings.events_topic, sim.events)
        rig.wait_settled(sim.events, hourly=False)
        token = subscription_token(rig, serve, RECEIVER)
        without = push(serve.urls[RECEIVER], None)

    assert token == (account.format(project=rig.settings.project), "https://receiver.example")
    assert without == 401
    rig.assert_exact(sim.events, hourly=False)


def test_requiring_tokens_without_our_emulator_says_so_in_one_line_and_exits_2(
    tmp_path: Path, etl_emulator_hosts: Hosts, etl_unique_name: Callable[[str], str]
) -> None:
    """No admin API of ours known (as with Google's emulator, whose pushes carry no token)."""
    env = {
        **os.environ,
        **etl_emulator_hosts.env(),
        ADMIN_ENV: "",
        "ETL_STATE_DIR": str(tmp_path),
        "GOOGLE_CLOUD_PROJECT": etl_unique_name("p"),
    }
    result = etl("serve", "--require-push-auth", env=env, timeout=120)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Google's emulator sends no token" in lines[0]


def subscription_token(rig: Rig, serve: Served, function: str) -> tuple[str, str] | None:
    """(service account, audience) of the `oidc_token` on `function`'s push subscription."""
    (name,) = [
        r["subscription"]
        for r in serve.records
        if r.get("message") == "serving" and r.get("function") == function
    ]
    path = rig.bus.subscriber.subscription_path(rig.settings.project, name)
    config = rig.bus.subscriber.get_subscription(subscription=path).push_config
    assert config.push_endpoint == serve.urls[function]
    if not config.oidc_token.service_account_email:
        return None
    return config.oidc_token.service_account_email, config.oidc_token.audience
