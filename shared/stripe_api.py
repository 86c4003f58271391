"""Stripe's official library, one client per secret key and call, its API base from
``STRIPE_API_BASE`` (https://api.stripe.com by default; the local stand-in under
``make dev`` and the tests, devstack/stripe_standin.py). Imported only by the Stripe
functions (the library costs ~0.3 s of a cold start)."""

from __future__ import annotations

import os
from typing import Any

import stripe

from shared.errors import ApiError

StripeError = stripe.StripeError

API_BASE = "https://api.stripe.com"
# What the account's webhook endpoint is registered for (POST /api/stripe/account).
EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
]


def client(secret_key: str) -> stripe.StripeClient:
    base = os.environ.get("STRIPE_API_BASE") or API_BASE
    return stripe.StripeClient(secret_key, base_addresses={"api": base}, max_network_retries=1)


def failure(error: stripe.StripeError) -> ApiError:
    """A refusal or an outage at Stripe, as the API answers it (the key never in it)."""
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return ApiError(422, "stripe_refused", "Stripe refused the secret key")
    if isinstance(error, stripe.InvalidRequestError):
        return ApiError(
            422,
            "stripe_refused",
            f"Stripe refused the request: {error.user_message or 'invalid request'}",
        )
    if isinstance(error, stripe.RateLimitError | stripe.APIConnectionError | stripe.APIError):
        return ApiError(
            503,
            "service_unavailable",
            "Stripe could not be reached; try again in a moment",
            headers={"Retry-After": "5"},
        )
    return ApiError(502, "stripe_error", "Stripe answered with an error")


def as_dict(obj: Any) -> dict[str, Any]:
    value = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return dict(value)
