"""GET /api/reconciliation/exceptions: the exception queue, filtered and paged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from functions.reconciliation import error_responses, plain
from shared.context import Viewer
from shared.listing import PageParams, fetch_page, one_of, order_by, page_params
from shared.models.common import Page, Pagination
from shared.models.reconciliation import (
    EXCEPTION_STATUSES,
    EXCEPTION_TYPES,
    SEVERITIES,
    ExceptionSummary,
)

router = APIRouter(tags=["reconciliation"])

SORTABLE = {"detected_at", "updated_at", "type", "line_number"}
NULLABLE = frozenset({"line_number"})
EXCEPTION_COLUMNS = (
    "id,organization_id,vendor_invoice_id,vendor_invoice_line_id,vendor_id,type,check_name,"
    "severity,line_number,expected,actual,variance::text,message,status,resolution,"
    "resolution_reason,resolved_by,resolved_at,detected_at,updated_at,"
    "invoice:vendor_invoices(invoice_number,vendor_name,invoice_date,currency,"
    "total_amount::text,status)"
)


@router.get(
    "/api/reconciliation/exceptions",
    response_model=Page[ExceptionSummary],
    summary="List the exception queue",
    description=(
        "Filter by `type`, `severity` (low, medium, high), `status` (open, resolved, "
        "dismissed), each comma-separated; `vendor_id`, `vendor_invoice_id`, "
        "`detected_at_from`/`_to`. Sort over detected_at (default `-detected_at`), "
        "updated_at, type, line_number."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_exceptions(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    type: Annotated[str | None, Query(description="comma-separated exception types")] = None,
    severity: Annotated[str | None, Query(description="low, medium, high")] = None,
    status: Annotated[str | None, Query(description="open, resolved, dismissed")] = None,
    vendor_id: Annotated[UUID | None, Query()] = None,
    vendor_invoice_id: Annotated[UUID | None, Query()] = None,
    detected_at_from: Annotated[datetime | None, Query()] = None,
    detected_at_to: Annotated[datetime | None, Query()] = None,
    sort: Annotated[str | None, Query(description="e.g. `type,-detected_at`")] = None,
) -> Page[ExceptionSummary]:
    types = one_of("type", type, EXCEPTION_TYPES)
    severities = one_of("severity", severity, SEVERITIES)
    statuses = one_of("status", status, EXCEPTION_STATUSES)
    query = (
        ctx.db.from_("reconciliation_exceptions")
        .select(EXCEPTION_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    for column, values in (("type", types), ("severity", severities), ("status", statuses)):
        if values:
            query = query.in_(column, values)
    if vendor_id is not None:
        query = query.eq("vendor_id", str(vendor_id))
    if vendor_invoice_id is not None:
        query = query.eq("vendor_invoice_id", str(vendor_invoice_id))
    if detected_at_from is not None:
        query = query.gte("detected_at", detected_at_from.isoformat())
    if detected_at_to is not None:
        query = query.lte("detected_at", detected_at_to.isoformat())
    ordered = order_by(query, sort, SORTABLE, "-detected_at", NULLABLE)
    rows, pagination = fetch_page(ordered, page)
    return Page[ExceptionSummary](
        data=[ExceptionSummary.model_validate(row) for row in plain(rows)],
        pagination=Pagination(**pagination),
    )
