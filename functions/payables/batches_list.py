"""GET /api/payables/payment-batches: the organization's payment batches, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.payables import error_responses, plain
from shared.context import Viewer
from shared.listing import PageParams, fetch_page, one_of, page_params
from shared.models.common import Page, Pagination
from shared.models.payables import BATCH_STATUSES, PaymentBatchSummary

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/payment-batches",
    response_model=Page[PaymentBatchSummary],
    summary="List payment batches",
    description="Newest first; `status` (draft, paid, cancelled; comma-separated) filters.",
    responses=error_responses(400, 401, 403, 422),
)
async def list_batches(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(description="draft, paid, cancelled")] = None,
) -> Page[PaymentBatchSummary]:
    statuses = one_of("status", status, BATCH_STATUSES)
    query = (
        ctx.db.from_("payment_batches")
        .select("id,status,execution_date,reference,created_at,paid_at,cancelled_at", count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if statuses:
        query = query.in_("status", statuses)
    rows, pagination = fetch_page(query.order("created_at", desc=True).order("id"), page)
    return Page[PaymentBatchSummary](
        data=[PaymentBatchSummary.model_validate(r) for r in plain(rows)],
        pagination=Pagination(**pagination),
    )
