"""The payment functions' database role over HTTP (migration
20261206170100_payment_functions_role.sql, shared/stripe_role.py): PostgREST refuses the
three functions that answer sealed Stripe secrets to anon, even with a live client link's
token or the endpoint token, and to a member's session; a token the payment functions
mint reaches them; a payment_processor token with another issuer, audience, lifetime or
signing secret does not; and the API's own routes refuse such a token."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import jwt
import pytest

from shared import stripe_role
from shared.settings import get_settings
from tests.api.conftest import Api, World
from tests.api.portal.helpers import link, sent_invoice
from tests.api.stripe.helpers import connect, webhook_path


@pytest.fixture(scope="module")
def account(api: Api, world: World) -> dict[str, Any]:
    connect(api)
    invoice = sent_invoice(world, world.org_a)
    url = str(link(api, "invoice", invoice)["url"])
    return {
        "token_hash": hashlib.sha256(url.rsplit("/", 1)[1].encode()).hexdigest(),
        "endpoint": webhook_path(world, world.org_a).rsplit("/", 1)[1],
    }


def rpc(world: World, name: str, body: dict[str, Any], bearer: str | None) -> httpx.Response:
    keys = world.stack.config.keys
    headers = {"apikey": keys.anon_key}
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    return httpx.post(f"{world.stack.url}/rest/v1/rpc/{name}", json=body, headers=headers)


def calls(account: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("portal_checkout", {"token_hash": account["token_hash"], "client_address": "192.0.2.1"}),
        ("stripe_webhook_account", {"endpoint_token": account["endpoint"]}),
        (
            "handle_stripe_event",
            {"endpoint_token": account["endpoint"], "payload": "{}", "mac": "0" * 64},
        ),
    ]


def processor_token(world: World, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "role": "payment_processor",
        "iss": stripe_role.ISSUER,
        "aud": stripe_role.AUDIENCE,
        "iat": now,
        "exp": now + 60,
        **changes,
    }
    return jwt.encode(claims, world.stack.config.keys.jwt_secret, algorithm="HS256")


def test_anon_cannot_reach_the_sealed_secrets(world: World, account: dict[str, Any]) -> None:
    for name, body in calls(account):
        reply = rpc(world, name, body, None)
        assert reply.status_code in (401, 404), (name, reply.status_code, reply.text)
        assert "sealed" not in reply.text


def test_a_member_cannot_either(world: World, account: dict[str, Any]) -> None:
    for name, body in calls(account):
        reply = rpc(world, name, body, world.token("alice"))
        assert reply.status_code in (403, 404), (name, reply.status_code, reply.text)
        assert "sealed" not in reply.text


def test_the_minted_token_reaches_them(world: World, account: dict[str, Any]) -> None:
    settings = get_settings()
    assert settings.supabase_jwt_secret == world.stack.config.keys.jwt_secret
    token = stripe_role.token(settings)
    found = rpc(world, "stripe_webhook_account", calls(account)[1][1], token)
    assert found.status_code == 200, found.text
    assert set(found.json()) == {"organization_id", "webhook_secret_sealed", "handler_key_sealed"}
    page = rpc(world, "portal_checkout", calls(account)[0][1], token)
    assert page.status_code == 200, page.text
    assert page.json()["stripe"]["secret_key_sealed"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 60


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "someone-else"},
        {"aud": "authenticated"},
        {"exp": int(time.time()) + 3600},
    ],
    ids=["issuer", "audience", "lifetime"],
)
def test_other_claims_are_refused(
    world: World, account: dict[str, Any], changes: dict[str, Any]
) -> None:
    reply = rpc(
        world, "stripe_webhook_account", calls(account)[1][1], processor_token(world, **changes)
    )
    assert reply.status_code == 403, reply.text
    assert "sealed" not in reply.text


def test_another_secret_is_refused(world: World, account: dict[str, Any]) -> None:
    forged = jwt.encode(
        jwt.decode(processor_token(world), options={"verify_signature": False}),
        "not-the-project-secret-not-the-project-secret",
        algorithm="HS256",
    )
    reply = rpc(world, "stripe_webhook_account", calls(account)[1][1], forged)
    assert reply.status_code == 401, reply.text


def test_the_api_refuses_the_processor_token(api: Api, world: World) -> None:
    answer = api.get("/api/invoices", token=processor_token(world))
    assert answer.status == 401, answer.json()
