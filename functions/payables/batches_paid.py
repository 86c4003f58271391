"""POST /api/payables/payment-batches/{id}/paid: the bank paid the batch (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import BatchId, call, error_responses
from shared.context import Admin
from shared.models.payables import PaymentBatch, PaymentBatchPaid

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/payment-batches/{id}/paid",
    response_model=PaymentBatch,
    summary="Mark a payment batch paid",
    description=(
        'Body `{"reference": "..."}` (required, 1-140 characters: the bank\'s reference). '
        "A draft batch only; its invoices become `paid`. Admins and owners."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def mark_paid(
    ctx: Admin, batch_id: BatchId, body: PaymentBatchPaid | None = None
) -> PaymentBatch:
    reference = body.reference if body else None
    result = call(ctx, "mark_payment_batch_paid", {"batch_id": batch_id, "reference": reference})
    return PaymentBatch.model_validate(result)
