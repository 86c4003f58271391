"""The payment functions' own database role: how the Pay button and Stripe's webhook
(serverless.yml: stripePayments) reach the database without login and without anon.

PostgREST switches to the role a token's ``role`` claim names when ``authenticator`` is a
member of it; migration 20261206170100_payment_functions_role.sql makes
``payment_processor`` (NOLOGIN, no BYPASSRLS, no table privileges) with EXECUTE on the
three narrow functions these routes need: ``portal_checkout`` (the page's data and the
sealed secret key), ``stripe_webhook_account`` (the sealed signing secret and handler key)
and ``handle_stripe_event``. Anon cannot execute them any more.

The token is minted here with the project's JWT secret (``SUPABASE_JWT_SECRET``, HS256,
as Supabase Auth signs its own): role ``payment_processor``, ``iss`` `ISSUER`, ``aud``
`AUDIENCE`, valid `LIFETIME_SECONDS` (the database refuses more than 60 s from iat to exp,
and any other issuer or audience). An instance reuses its token while it has more than
`RENEW_BEFORE_SECONDS` left, so a burst of webhooks signs once. The API's own token check
refuses it (its audience is not ``authenticated``), so it is good for nothing but these
three calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from typing import Any

from shared import db
from shared.errors import ApiError
from shared.settings import Settings

ROLE = "payment_processor"
ISSUER = "invoiceflow-payments"
AUDIENCE = "invoiceflow-payment-processor"
LIFETIME_SECONDS = 60
RENEW_BEFORE_SECONDS = 20

_lock = threading.Lock()
_minted: dict[str, tuple[str, int]] = {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret: str, now: float | None = None) -> tuple[str, dict[str, Any]]:
    """A token for ``payment_processor`` signed with ``secret`` (HS256), and its claims."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "role": ROLE,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + LIFETIME_SECONDS,
    }
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signed = f"{header}.{payload}".encode()
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}", claims


def token(settings: Settings) -> str:
    """The instance's current token (minted again when it has little time left)."""
    secret = settings.supabase_jwt_secret
    if not secret:
        raise ApiError(
            503,
            "service_unavailable",
            "online payment is unavailable: no JWT secret is configured",
            headers={"Retry-After": "30"},
        )
    now = time.time()
    with _lock:
        found = _minted.get(secret)
        if found is not None and found[1] - now > RENEW_BEFORE_SECONDS:
            return found[0]
        minted, claims = mint(secret, now)
        _minted.clear()
        _minted[secret] = (minted, int(claims["exp"]))
        return minted


def client(settings: Settings) -> Any:
    """A PostgREST client speaking as ``payment_processor``."""
    return db.rest(settings, token(settings))
