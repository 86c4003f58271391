"""Connecting an organization's Stripe account and building signed events for the tests."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from devstack import stripe_standin
from shared import stripe_keys
from tests.api.conftest import Api, Response, World


def a_test_key() -> str:
    return "sk_test_" + secrets.token_hex(12)


def connect(api: Api, *, as_: str = "alice", partial: bool = False) -> dict[str, Any]:
    reply = api.put(
        "/api/stripe/account",
        as_=as_,
        json_body={"secret_key": a_test_key(), "allow_partial_payments": partial},
    )
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def webhook_secret(world: World, org: str) -> str:
    sealed = world.sql(
        "select webhook_secret_sealed from private.stripe_accounts where organization_id = %s",
        org,
    )[0][0]
    return stripe_keys.unseal(str(sealed), org, "webhook_secret_sealed")


def webhook_path(world: World, org: str) -> str:
    token = world.sql(
        "select endpoint_token from private.stripe_accounts where organization_id = %s", org
    )[0][0]
    return f"/api/webhooks/stripe/{token}"


def post_event(
    api: Api,
    world: World,
    org: str,
    event: dict[str, Any],
    *,
    secret: str | None = None,
    timestamp: int | None = None,
) -> Response:
    payload = json.dumps(event)
    headers = stripe_standin.signed(payload, secret or webhook_secret(world, org), timestamp)
    return api.post(webhook_path(world, org), content=payload.encode(), headers=headers)


def intent_event(
    invoice: str, amount: int, currency: str = "usd", intent: str = ""
) -> dict[str, Any]:
    return stripe_standin.event(
        "payment_intent.succeeded",
        {
            "id": intent or "pi_" + secrets.token_hex(8),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": currency,
            "latest_charge": "ch_" + secrets.token_hex(8),
            "metadata": {"invoice_id": invoice},
        },
        int(time.time()),
    )


def complete(checkout_url: str, **query: str) -> dict[str, Any]:
    reply = httpx.post(
        checkout_url + "/complete",
        params=query,
        headers={"accept": "application/json"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body
