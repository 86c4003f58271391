"""GET /api/payables/payment-batches/{id}: a batch with its items and totals."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import BatchId, call, error_responses
from shared.context import Viewer
from shared.models.payables import PaymentBatch

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/payment-batches/{id}",
    response_model=PaymentBatch,
    summary="A payment batch",
    description="Its items (invoice, vendor, the vendor's IBAN and BIC, amount) and totals.",
    responses=error_responses(400, 401, 403, 404),
)
async def get_batch(ctx: Viewer, batch_id: BatchId) -> PaymentBatch:
    return PaymentBatch.model_validate(call(ctx, "payment_batch", {"batch_id": batch_id}))
