"""A local stand-in for the few Stripe API calls InvoiceFlow makes, answering as Stripe
does (never deployed). ``make dev`` and the Stripe tests start it and point the library at
it (``STRIPE_API_BASE``); the library talks to it unchanged (form-encoded requests with
bracketed keys, JSON answers, Bearer secret keys).

- ``GET /v1/account``: the key's account (any ``sk_test_``/``rk_test_`` key is one).
- ``POST /v1/webhook_endpoints``: registers an endpoint (url, enabled_events) for the key
  and answers its signing secret, as Stripe does once.
- ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/{id}``: a session with a
  ``url`` on this server.
- ``GET /checkout/{id}``: the page a person sees after Pay (the amount, a Pay button,
  a link back). ``POST /checkout/{id}/complete`` completes it: a PaymentIntent and a
  charge are made, ``checkout.session.completed`` and ``payment_intent.succeeded`` are
  built, signed with the endpoint's secret by Stripe's own library and posted to the
  key's endpoints, and the browser goes to the session's ``success_url``.
  ``?deliver=twice`` posts each event twice (Stripe delivers at least once);
  ``?order=reversed`` posts the PaymentIntent's event first.

Not Stripe: no card is asked for, nothing is charged, and the state lives in memory.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from shared.stripe_money import from_minor


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def decode_form(body: bytes) -> dict[str, Any]:
    """``a[b][0][c]=1`` (the library's encoding) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = value if last else ({} if not parts[i + 1].isdigit() else [])
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None or last:
                    node[index] = nxt
                node = node[index]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return root


@dataclass
class StandinState:
    endpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    key = auth.removeprefix("Bearer ").strip()
    return key if re.match(r"^(sk|rk)_test_[A-Za-z0-9]{8,}$", key) else None


def create_app(base_url: str, state: StandinState | None = None) -> Starlette:  # noqa: PLR0915
    st = state or StandinState()

    async def account(request: Request) -> Response:
        if _key(request) is None:
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        return JSONResponse({"id": "acct_standin", "object": "account", "livemode": False})

    async def webhook_endpoints(request: Request) -> Response:
        key = _key(request)
        if key is None:
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        form = decode_form(await request.body())
        if not str(form.get("url", "")).startswith(("http://", "https://")):
            return _error(400, "invalid_request_error", "url is required")
        endpoint = {
            "id": _id("we"),
            "object": "webhook_endpoint",
            "url": form["url"],
            "enabled_events": form.get("enabled_events") or ["*"],
            "secret": "whsec_" + secrets.token_urlsafe(24),
            "status": "enabled",
            "livemode": False,
        }
        with st.lock:
            st.endpoints.setdefault(key, []).append(endpoint)
        return JSONResponse(endpoint)

    async def create_session(request: Request) -> Response:
        key = _key(request)
        if key is None:
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        form = decode_form(await request.body())
        try:
            line = form["line_items"][0]
            amount = int(line["price_data"]["unit_amount"]) * int(line.get("quantity", 1))
            currency = str(line["price_data"]["currency"])
        except (KeyError, IndexError, TypeError, ValueError):
            return _error(400, "invalid_request_error", "line_items[0][price_data] is required")
        if amount <= 0:
            return _error(400, "invalid_request_error", "unit_amount must be positive")
        session_id = _id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode", "payment"),
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.get("metadata") or {},
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "url": f"{base_url}/checkout/{session_id}",
            "livemode": False,
            "name": (line.get("price_data", {}).get("product_data") or {}).get("name", ""),
            "payment_intent_metadata": (form.get("payment_intent_data") or {}).get("metadata")
            or {},
        }
        with st.lock:
            st.sessions[session_id] = session
            st.session_keys[session_id] = key
        return JSONResponse(_public(session))

    async def get_session(request: Request) -> Response:
        session = st.sessions.get(request.path_params["id"])
        if session is None or _key(request) != st.session_keys.get(session["id"]):
            return _error(404, "invalid_request_error", "No such checkout.session")
        return JSONResponse(_public(session))

    async def page(request: Request) -> Response:
        session = st.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse("<h1>No such checkout</h1>", status_code=404)
        amount = from_minor(int(session["amount_total"]), session["currency"])
        name = html.escape(str(session.get("name") or "Payment"))
        done = session["status"] == "complete"
        button = (
            "<p>Paid.</p>"
            if done
            else f'<form method="post" action="/checkout/{session["id"]}/complete">'
            '<button type="submit" style="font-size:1.1rem;padding:10px 24px">Pay</button></form>'
        )
        cancel = html.escape(str(session.get("cancel_url") or ""))
        return HTMLResponse(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Stripe stand-in checkout</title></head><body style='font-family:sans-serif'>"
            "<h1>Stripe stand-in (local)</h1>"
            f"<p>{name}: <strong>{amount} {html.escape(session['currency'].upper())}</strong></p>"
            f"{button}<p><a href='{cancel}'>Back</a></p></body></html>"
        )

    async def complete(request: Request) -> Response:
        session_id = request.path_params["id"]
        with st.lock:
            session = st.sessions.get(session_id)
            key = st.session_keys.get(session_id)
            if session is None or key is None:
                return _error(404, "invalid_request_error", "No such checkout.session")
            first = session["status"] != "complete"
            if first:
                session["payment_intent"] = _id("pi")
                session["charge"] = _id("ch")
                session["payment_status"] = "paid"
                session["status"] = "complete"
        if first:
            events = _events(session)
            if request.query_params.get("order") == "reversed":
                events.reverse()
            times = 2 if request.query_params.get("deliver") == "twice" else 1
            for event in events:
                for _ in range(times):
                    deliver(st, key, event)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(_public(session))
        return RedirectResponse(str(session.get("success_url") or "/"), status_code=303)

    return Starlette(
        routes=[
            Route("/v1/account", account, methods=["GET"]),
            Route("/v1/webhook_endpoints", webhook_endpoints, methods=["POST"]),
            Route("/v1/checkout/sessions", create_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{id}", get_session, methods=["GET"]),
            Route("/checkout/{id}", page, methods=["GET"]),
            Route("/checkout/{id}/complete", complete, methods=["POST"]),
        ]
    )


def _public(session: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in session.items() if k not in ("name", "payment_intent_metadata", "charge")
    }


def _events(session: dict[str, Any]) -> list[dict[str, Any]]:
    created = int(time.time())
    intent = {
        "id": session["payment_intent"],
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_received": session["amount_total"],
        "currency": session["currency"],
        "status": "succeeded",
        "latest_charge": session["charge"],
        "metadata": session["payment_intent_metadata"] or session["metadata"],
        "livemode": False,
    }
    return [
        event("checkout.session.completed", _public(session), created),
        event("payment_intent.succeeded", intent, created),
    ]


def event(kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """An event as Stripe sends it (API version of the pinned library)."""
    return {
        "id": _id("evt"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created or int(time.time()),
        "type": kind,
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": obj},
    }


def signed(payload: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Stripe sends with a payload, signed by Stripe's library."""
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def deliver(st: StandinState, key: str, ev: dict[str, Any]) -> None:
    """Posts ``ev`` to every endpoint the key registered for its type."""
    payload = json.dumps(ev)
    for endpoint in st.endpoints.get(key, []):
        wanted = endpoint["enabled_events"]
        if "*" not in wanted and ev["type"] not in wanted:
            continue
        try:
            reply = httpx.post(
                endpoint["url"],
                content=payload,
                headers=signed(payload, endpoint["secret"]),
                timeout=30,
            )
            status = reply.status_code
        except httpx.HTTPError as error:
            status = -1
            print(f"stripe stand-in: delivery to {endpoint['url']} failed: {error}")
        with st.lock:
            st.delivered.append({"event": ev["id"], "type": ev["type"], "status": status})


def provision_kms(aws_url: str) -> str:
    """A KMS key in moto for the payment keys' envelope (serverless.yml: PaymentKeysKey);
    answers its id, for ``PAYMENT_KEYS_KMS_KEY_ID``."""
    import boto3  # noqa: PLC0415

    from devstack.aws import CREDENTIALS  # noqa: PLC0415

    kms = boto3.client(
        "kms",
        endpoint_url=aws_url,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    alias = "alias/invoiceflow-payment-keys"
    for found in kms.list_aliases().get("Aliases", []):
        if found.get("AliasName") == alias and found.get("TargetKeyId"):
            return str(found["TargetKeyId"])
    key = kms.create_key(Description="InvoiceFlow payment keys (local)")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    return str(key)
