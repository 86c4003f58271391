"""The organization's Stripe account: GET (members), PUT to connect or replace, PATCH
allow_partial_payments, DELETE to disconnect (admins). The keys are sealed with KMS
before they reach the database and are never answered."""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from fastapi.responses import Response

from functions.stripe import error_responses
from shared import db, portal
from shared.context import Admin, Viewer
from shared.errors import ApiError
from shared.models.portal import StripeAccount, StripeAccountConnect, StripeAccountUpdate

router = APIRouter(tags=["stripe"])

WEBHOOK_PREFIX = "/api/webhooks/stripe/"


def _answer(row: dict[str, object]) -> StripeAccount:
    path = row.get("webhook_path")
    url = f"{portal.config().url}{path}" if isinstance(path, str) else None
    return StripeAccount.model_validate({**row, "webhook_url": url})


@router.get(
    "/api/stripe/account",
    response_model=StripeAccount,
    summary="Whether Stripe is connected (never its keys)",
    responses=error_responses(401, 403),
)
async def get_stripe_account(ctx: Viewer) -> StripeAccount:
    return _answer(db.rpc(ctx.db, "stripe_account", {"organization_id": str(ctx.organization_id)}))


@router.put(
    "/api/stripe/account",
    response_model=StripeAccount,
    summary="Connect the organization's Stripe account (or replace its keys)",
    description=(
        "The secret key is checked with Stripe. Without `webhook_secret`, a webhook "
        "endpoint is registered at Stripe for `webhook_url` and its signing secret kept. "
        "Both are sealed with KMS (envelope encryption) and never answered or logged."
    ),
    responses=error_responses(400, 401, 403, 422, 503),
)
async def connect_stripe_account(ctx: Admin, body: StripeAccountConnect) -> StripeAccount:
    from shared import stripe_api, stripe_keys  # noqa: PLC0415  (cold start of GET)

    org = str(ctx.organization_id)
    current = db.rpc(ctx.db, "stripe_account", {"organization_id": org})
    path = current.get("webhook_path") if isinstance(current, dict) else None
    if isinstance(path, str) and path.startswith(WEBHOOK_PREFIX):
        endpoint = path[len(WEBHOOK_PREFIX) :]
    else:
        endpoint = secrets.token_urlsafe(24)
    client = stripe_api.client(body.secret_key)
    webhook_secret = body.webhook_secret
    try:
        if webhook_secret is None:
            made = client.v1.webhook_endpoints.create(
                params={
                    "url": f"{portal.config().url}{WEBHOOK_PREFIX}{endpoint}",
                    "enabled_events": stripe_api.EVENTS,  # type: ignore[typeddict-item]
                    "description": "InvoiceFlow",
                }
            )
            webhook_secret = str(made.secret)
        else:
            client.v1.accounts.retrieve_current()
    except stripe_api.StripeError as error:
        raise stripe_api.failure(error) from None
    handler_key = secrets.token_hex(32)
    try:
        sealed_key = stripe_keys.seal(body.secret_key, org, "secret_key_sealed")
        sealed_secret = stripe_keys.seal(webhook_secret, org, "webhook_secret_sealed")
        sealed_handler = stripe_keys.seal(handler_key, org, "handler_key_sealed")
    except Exception:
        raise ApiError(
            503,
            "service_unavailable",
            "the keys could not be sealed; try again",
            headers={"Retry-After": "5"},
        ) from None
    row = db.rpc(
        ctx.db,
        "connect_stripe_account",
        {
            "organization_id": org,
            "endpoint_token": endpoint,
            "secret_key_sealed": sealed_key,
            "webhook_secret_sealed": sealed_secret,
            "handler_key": handler_key,
            "handler_key_sealed": sealed_handler,
            "livemode": "_live_" in body.secret_key,
            "allow_partial_payments": body.allow_partial_payments,
        },
    )
    return _answer(row)


@router.patch(
    "/api/stripe/account",
    response_model=StripeAccount,
    summary="Allow or refuse partial payments on the client page",
    responses=error_responses(400, 401, 403, 422),
)
async def update_stripe_account(ctx: Admin, body: StripeAccountUpdate) -> StripeAccount:
    row = db.rpc(
        ctx.db,
        "update_stripe_account",
        {
            "organization_id": str(ctx.organization_id),
            "allow_partial_payments": body.allow_partial_payments,
        },
    )
    return _answer(row)


@router.delete(
    "/api/stripe/account",
    status_code=204,
    response_class=Response,
    summary="Disconnect Stripe (its sealed keys are deleted; the Pay button goes away)",
    responses=error_responses(401, 403),
)
async def disconnect_stripe_account(ctx: Admin) -> Response:
    db.rpc(ctx.db, "disconnect_stripe_account", {"organization_id": str(ctx.organization_id)})
    return Response(status_code=204)
