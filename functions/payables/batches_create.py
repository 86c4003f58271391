"""POST /api/payables/payment-batches: a draft batch of approved invoices (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import call, error_responses
from shared.context import Admin
from shared.models.payables import PaymentBatch, PaymentBatchCreate

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/payment-batches",
    status_code=201,
    response_model=PaymentBatch,
    summary="Create a payment batch of approved invoices",
    description=(
        '`{"invoice_ids": [...], "execution_date": "YYYY-MM-DD"}`: 1 to 1000 approved '
        "invoices of the organization, each in no other live batch (422 lists each one "
        "refused and why); execution_date today or later (default today). Answers the "
        "batch with its items and its totals per currency. Admins and owners."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def create_batch(ctx: Admin, body: PaymentBatchCreate | None = None) -> PaymentBatch:
    body = body or PaymentBatchCreate()
    ids = [str(i) for i in body.invoice_ids] if body.invoice_ids is not None else None
    date = body.execution_date.isoformat() if body.execution_date else None
    result = call(ctx, "create_payment_batch", {"invoice_ids": ids, "execution_date": date})
    return PaymentBatch.model_validate(result)
