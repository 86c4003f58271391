"""PUT /api/payments/{id}: changes a payment's amount, date, method, reference or notes.

A partial update (fields absent stay; null clears the reference and the notes),
checked and applied by one SQL function (update_payment), which answers with the
payment and the invoice's new amount paid, balance and status.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from functions.payments import error_responses
from shared import db
from shared.context import Member
from shared.models.payments import Payment, PaymentUpdate

router = APIRouter(tags=["payments"])


@router.put(
    "/api/payments/{id}",
    response_model=Payment,
    summary="Change a payment",
    description=(
        "A new amount may be at most the invoice's balance plus the payment's current amount. "
        "The invoice of a payment does not change: delete the payment and record another."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def update_payment(id: UUID, body: PaymentUpdate, ctx: Member) -> Payment:
    result = db.rpc(
        ctx.db,
        "update_payment",
        {
            "organization_id": str(ctx.organization_id),
            "payment_id": str(id),
            "changes": body.to_json(exclude_unset=True),
        },
    )
    return Payment.model_validate(result)
