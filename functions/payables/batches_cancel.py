"""POST /api/payables/payment-batches/{id}/cancel: cancel a draft batch (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import BatchId, call, error_responses
from shared.context import Admin
from shared.models.payables import PaymentBatch

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/payment-batches/{id}/cancel",
    response_model=PaymentBatch,
    summary="Cancel a draft payment batch",
    description="Its invoices stay approved and may go into another batch. Admins and owners.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def cancel_batch(ctx: Admin, batch_id: BatchId) -> PaymentBatch:
    return PaymentBatch.model_validate(call(ctx, "cancel_payment_batch", {"batch_id": batch_id}))
