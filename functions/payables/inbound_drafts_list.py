"""GET /api/payables/inbound/drafts: invoices read from PDFs, waiting for a person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.payables import error_responses, plain
from functions.payables.inbound import DRAFT_COLUMNS
from shared.context import Viewer
from shared.listing import PageParams, fetch_page, one_of, page_params
from shared.models.common import Page, Pagination
from shared.models.inbound import DRAFT_STATUSES, InboundDraft

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/inbound/drafts",
    response_model=Page[InboundDraft],
    summary="List the drafts read from PDFs",
    description=(
        "Newest first; `status` (needs_confirmation, confirmed, discarded; "
        "comma-separated) filters, default needs_confirmation."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_inbound_drafts(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(description=", ".join(DRAFT_STATUSES))] = None,
) -> Page[InboundDraft]:
    statuses = one_of("status", status, DRAFT_STATUSES) or ["needs_confirmation"]
    query = (
        ctx.db.from_("inbound_drafts")
        .select(DRAFT_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
        .in_("status", statuses)
    )
    rows, pagination = fetch_page(query.order("created_at", desc=True).order("id"), page)
    return Page[InboundDraft](
        data=[InboundDraft.model_validate(r) for r in plain(rows)],
        pagination=Pagination(**pagination),
    )
