"""POST /p/{token}/pay: the client page's Pay button (no login). A Checkout Session for
the invoice's balance due (or the amount the client typed, where the organization allows
partial payments), in the invoice's currency and Stripe's smallest unit, the invoice's id
in its metadata and its PaymentIntent's; then 303 to Stripe (JSON: the URL)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from functions.portal import Token, html_too
from functions.portal.page import error_page, wants_json
from functions.stripe import error_responses
from shared import portal, stripe_api, stripe_keys, stripe_money
from shared.errors import ApiError
from shared.formatting import minor_unit
from shared.models.portal import PayForm
from shared.settings import Settings, get_settings

router = APIRouter(tags=["client page"])


async def _settings() -> Settings:
    return get_settings()


def _form(request: Request, raw: bytes) -> PayForm:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    values: Any
    try:
        if kind == "application/json":
            values = json.loads(raw or b"{}", parse_float=Decimal)
        elif kind in ("application/x-www-form-urlencoded", ""):
            values = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
            if not str(values.get("amount", "")).strip():
                values.pop("amount", None)
        else:
            raise ApiError(415, "unsupported_media_type", "send a form or JSON")
        return PayForm.model_validate(values)
    except (ValueError, UnicodeDecodeError, ValidationError) as error:
        raise ApiError(
            422, "validation_failed", "amount: a positive amount of money is required"
        ) from error


def _amount(form: PayForm, data: Any) -> Decimal:
    balance = Decimal(data.balance_due)
    if form.amount is None or not data.actions.partial_payments:
        return balance
    try:
        amount = form.amount.quantize(Decimal(1).scaleb(-minor_unit(data.currency)))
    except InvalidOperation:
        amount = Decimal(-1)
    if amount != form.amount or amount <= 0:
        raise ApiError(
            422,
            "validation_failed",
            f"amount: at most {minor_unit(data.currency)} decimals in {data.currency}",
        )
    if amount > balance:
        raise ApiError(
            422, "validation_failed", f"amount: at most the balance due, {balance} {data.currency}"
        )
    return amount


@router.post(
    "/p/{token}/pay",
    summary="Pay an invoice online: a Stripe Checkout Session (no login)",
    responses={
        303: {"description": "To Stripe's checkout page"},
        **html_too(error_responses(404, 415, 422, 429, 503)),
    },
)
async def pay(
    request: Request, token: Token, settings: Annotated[Settings, Depends(_settings)]
) -> Response:
    try:
        form = _form(request, await request.body())
        answer = portal.checkout_answer(settings, token, portal.client_address(request))
        data = portal.page_data(answer)
        if not data.actions.pay:
            raise ApiError(422, "rule_violation", "nothing is payable online on this page")
        amount = _amount(form, data)
        url = _checkout(
            token,
            sealed=str((answer.get("stripe") or {}).get("secret_key_sealed") or ""),
            document=answer["document"],
            currency=data.currency,
            number=data.number,
            amount=amount,
        )
    except ApiError as error:
        if error.status == 422 and not wants_json(request):
            return RedirectResponse(f"/p/{token}", 303, headers=portal.headers())
        return error_page(error, request)
    if wants_json(request):
        return JSONResponse({"checkout_url": url}, headers=portal.headers())
    return RedirectResponse(url, 303, headers=portal.headers())


def _checkout(
    token: str,
    *,
    sealed: str,
    document: dict[str, Any],
    currency: str,
    number: str,
    amount: Decimal,
) -> str:
    org = str(document["organization_id"])
    invoice_id = str(document["id"])
    if not sealed:
        raise ApiError(422, "rule_violation", "nothing is payable online on this page")
    try:
        secret = stripe_keys.unseal(sealed, org, "secret_key_sealed")
    except stripe_keys.SealError:
        raise ApiError(
            503, "service_unavailable", "online payment is unavailable; try again later"
        ) from None
    try:
        minor = stripe_money.to_minor(amount, currency)
    except ValueError as error:
        raise ApiError(422, "validation_failed", f"amount: {error}") from None
    page = portal.link_url(token)
    metadata = {"invoice_id": invoice_id, "organization_id": org}
    try:
        session = stripe_api.client(secret).v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "client_reference_id": invoice_id,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": currency.lower(),
                            "unit_amount": minor,
                            "product_data": {"name": f"Invoice {number}"},
                        },
                    }
                ],
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata, "description": f"Invoice {number}"},
                "success_url": f"{page}?notice=paid",
                "cancel_url": f"{page}?notice=cancelled",
            }
        )
    except stripe_api.StripeError as error:
        raise stripe_api.failure(error) from None
    if not session.url:
        raise ApiError(502, "stripe_error", "Stripe answered without a checkout page")
    return str(session.url)
