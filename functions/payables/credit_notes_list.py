"""GET /api/payables/credit-notes: the organization's vendor credit notes, newest first."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from functions.payables import error_responses, plain
from shared.context import Viewer
from shared.listing import PageParams, fetch_page, one_of, page_params
from shared.models.common import Page, Pagination
from shared.models.payables import CREDIT_NOTE_STATUSES, VendorCreditNoteSummary

router = APIRouter(tags=["payables"])

COLUMNS = (
    "id,vendor_id,vendor_name,credit_note_number,credit_note_date,currency,"
    "total_amount::text,applied_amount::text,available_amount::text,status,"
    "preceding_invoice_reference,vendor_invoice_id,source_format,created_at"
)


@router.get(
    "/api/payables/credit-notes",
    response_model=Page[VendorCreditNoteSummary],
    summary="List vendor credit notes",
    description=(
        "Newest first (by date). `status` (open, partially_applied, applied; comma-"
        "separated), `vendor_id` and `vendor_invoice_id` (the invoice one refers to) filter."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_credit_notes(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(description="open, partially_applied, applied")] = None,
    vendor_id: Annotated[UUID | None, Query()] = None,
    vendor_invoice_id: Annotated[UUID | None, Query()] = None,
) -> Page[VendorCreditNoteSummary]:
    statuses = one_of("status", status, CREDIT_NOTE_STATUSES)
    query = (
        ctx.db.from_("vendor_credit_notes")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if statuses:
        query = query.in_("status", statuses)
    if vendor_id is not None:
        query = query.eq("vendor_id", str(vendor_id))
    if vendor_invoice_id is not None:
        query = query.eq("vendor_invoice_id", str(vendor_invoice_id))
    ordered = query.order("credit_note_date", desc=True).order("id", desc=True)
    rows, pagination = fetch_page(ordered, page)
    return Page[VendorCreditNoteSummary](
        data=[VendorCreditNoteSummary.model_validate(r) for r in plain(rows)],
        pagination=Pagination(**pagination),
    )
