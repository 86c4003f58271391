"""POST /api/webhooks/stripe/{endpoint}: the account's events from Stripe (no login; the
endpoint token in the path says whose, Stripe's signature says it is Stripe).

The endpoint's sealed signing secret is read as ``payment_processor`` (a role of its own
with a token this function mints, shared/stripe_role.py; anon reads nothing sealed, and
no HTTP function holds the service role). The signature is verified by Stripe's library
(stripe.Webhook.construct_event, a 5-minute tolerance: a wrong signature or an old
timestamp is 400), then the event goes, with the MAC of the account's handler key, to
public.handle_stripe_event, which handles it once by its id in one transaction with its
effect (migration 20261206130200_stripe.sql): a second delivery answers "duplicate".
Whatever the event asks, the answer is 200 once it is stored (a payment the invoice
cannot take is kept as needing attention), so Stripe stops retrying; a database or KMS
outage is 503, so Stripe retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends, Header, Path, Request

from functions.stripe import error_responses
from shared import db, stripe_keys, stripe_role
from shared.errors import ApiError
from shared.settings import Settings, get_settings

router = APIRouter(tags=["stripe"])

_ENDPOINT = re.compile(r"^[A-Za-z0-9_-]{24,64}$")
TOLERANCE_SECONDS = 300


async def _settings() -> Settings:
    return get_settings()


def _unknown() -> ApiError:
    return ApiError(404, "not_found", "no such webhook endpoint")


@router.post(
    "/api/webhooks/stripe/{endpoint}",
    summary="Stripe's events for an organization's account (signed by Stripe)",
    responses=error_responses(400, 404, 503),
)
async def stripe_webhook(
    request: Request,
    endpoint: Annotated[str, Path(max_length=100, description="The account's endpoint token")],
    settings: Annotated[Settings, Depends(_settings)],
    stripe_signature: Annotated[str | None, Header(max_length=2000)] = None,
) -> dict[str, Any]:
    if not _ENDPOINT.match(endpoint):
        raise _unknown()
    payload = await request.body()
    # payment_processor: the narrow functions of migrations 20261206130200 and 170100
    client = stripe_role.client(settings)
    account = db.rpc(client, "stripe_webhook_account", {"endpoint_token": endpoint})
    if not isinstance(account, dict):
        raise _unknown()
    org = str(account["organization_id"])
    try:
        secret = stripe_keys.unseal(
            str(account["webhook_secret_sealed"]), org, "webhook_secret_sealed"
        )
        handler_key = stripe_keys.unseal(
            str(account["handler_key_sealed"]), org, "handler_key_sealed"
        )
    except stripe_keys.SealError:
        raise ApiError(
            503,
            "service_unavailable",
            "the signing secret could not be read; retry",
            headers={"Retry-After": "30"},
        ) from None
    try:
        stripe.Webhook.construct_event(payload, stripe_signature, secret, TOLERANCE_SECONDS)
        text = payload.decode("utf-8")
        event = json.loads(text)
    except stripe.SignatureVerificationError:
        raise ApiError(
            400, "invalid_signature", "the Stripe-Signature does not verify (or is too old)"
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the body is not a Stripe event") from None
    if not isinstance(event, dict):
        raise ApiError(400, "malformed_json", "the body is not a Stripe event")
    if "\x00" in text:
        raise ApiError(400, "malformed_json", "the body is not a Stripe event")
    # The database takes the event only with the handler key's MAC of its text: proof
    # that this function, which alone opens the key, verified Stripe's signature.
    mac = hmac.new(handler_key.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()
    answer = db.rpc(
        client, "handle_stripe_event", {"endpoint_token": endpoint, "payload": text, "mac": mac}
    )
    return {"received": True, **(answer if isinstance(answer, dict) else {})}
