"""GET /api/reconciliation/purchase-orders: the organization's purchase orders (no lines)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from shared.context import Viewer
from shared.listing import PageParams, escape_like, fetch_page, one_of, order_by, page_params
from shared.models.common import Page, Pagination
from shared.models.reconciliation import PurchaseOrderSummary
from shared.reconciliation.routes import error_responses

router = APIRouter(tags=["reconciliation"])

SORTABLE = {"order_date", "po_number", "created_at", "status"}
STATUSES = ("open", "closed", "cancelled")
COLUMNS = (
    "id,organization_id,vendor_id,po_number,order_date,currency,status,notes,import_batch_id,"
    "created_by,created_at,updated_at,vendor:vendors(id,name)"
)


@router.get(
    "/api/reconciliation/purchase-orders",
    response_model=Page[PurchaseOrderSummary],
    summary="List the organization's purchase orders",
    description=(
        "Filter (`status`: open, closed, cancelled, comma-separated; `vendor_id`; "
        "`order_date_from`/`_to`), search (`q`: PO number), sort "
        f"(`sort`: {', '.join(sorted(SORTABLE))}; default `-order_date`) and page."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_purchase_orders(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None, Query(max_length=200, description="Substring of the PO number")
    ] = None,
    status: Annotated[str | None, Query(description="open, closed, cancelled")] = None,
    vendor_id: Annotated[UUID | None, Query()] = None,
    order_date_from: Annotated[date | None, Query()] = None,
    order_date_to: Annotated[date | None, Query()] = None,
    sort: Annotated[str | None, Query(description="Up to three fields, `-` for descending")] = None,
) -> Page[PurchaseOrderSummary]:
    query = (
        ctx.db.from_("purchase_orders")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if statuses := one_of("status", status, STATUSES):
        query = query.in_("status", statuses)
    if vendor_id is not None:
        query = query.eq("vendor_id", str(vendor_id))
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.ilike("po_number", f"*{term}*")
    if order_date_from is not None:
        query = query.gte("order_date", order_date_from.isoformat())
    if order_date_to is not None:
        query = query.lte("order_date", order_date_to.isoformat())
    rows, pagination = fetch_page(order_by(query, sort, SORTABLE, "-order_date"), page)
    return Page[PurchaseOrderSummary](
        data=[PurchaseOrderSummary.model_validate(row) for row in rows],
        pagination=Pagination(**pagination),
    )
