"""POST /api/payments: records a payment against a sent or overdue invoice.

One SQL function (record_payment) locks the invoice, checks the payment and
answers with it and the invoice's new amount paid, balance and status.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.payments import error_responses
from shared import db
from shared.context import Member
from shared.models.payments import Payment, PaymentCreate

router = APIRouter(tags=["payments"])


@router.post(
    "/api/payments",
    response_model=Payment,
    status_code=201,
    summary="Record a payment",
    description=(
        "The invoice must be sent or overdue, and the amount at most its balance due "
        "(`422 rule_violation` otherwise, naming the balance), unless the organization keeps "
        "overpayments as client credit (business setting `overpayment`: `credit`). "
        "An invoice that does not exist or belongs to another organization is `404`."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def create_payment(body: PaymentCreate, ctx: Member) -> Payment:
    params: dict[str, Any] = {"organization_id": str(ctx.organization_id)}
    params.update({k: v for k, v in body.to_json().items() if v is not None})
    return Payment.model_validate(db.rpc(ctx.db, "record_payment", params))
