"""GET /api/reconciliation/invoices: vendor invoices with their matching status."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from functions.reconciliation import error_responses, plain
from shared.context import Viewer
from shared.listing import PageParams, escape_like, fetch_page, one_of, order_by, page_params
from shared.models.common import Page, Pagination
from shared.models.reconciliation import INVOICE_STATUSES, VendorInvoiceSummary

router = APIRouter(tags=["reconciliation"])

SORTABLE = {"invoice_date", "invoice_number", "total_amount", "created_at", "matched_at"}
NULLABLE = frozenset({"matched_at"})
SEARCHED = ("invoice_number", "vendor_name", "po_number")
INVOICE_COLUMNS = (
    "id,organization_id,vendor_id,vendor_name,invoice_number,invoice_date,due_date,po_number,"
    "purchase_order_id,po_linked_manually,currency,subtotal::text,tax_amount::text,"
    "total_amount::text,status,matched_at,notes,import_batch_id,created_at,updated_at,"
    "match:vendor_invoice_matches(outcome,open_exceptions,total_variance::text,"
    "lines_count,lines_exception)"
)


@router.get(
    "/api/reconciliation/invoices",
    response_model=Page[VendorInvoiceSummary],
    summary="List the organization's vendor invoices",
    description=(
        "Filter by `status` (pending, matched, matched_with_tolerance, exception, approved, "
        "rejected; comma-separated), `vendor_id` (`none`: unknown vendors), "
        "`invoice_date_from`/`_to`; search `q` (invoice number, vendor name as written, PO "
        "number); sort over invoice_date (default `-invoice_date`), invoice_number, "
        "total_amount, created_at, matched_at. Each row carries a summary of its match."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_vendor_invoices(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    vendor_id: Annotated[
        UUID | None, Query(description="the vendor's invoices (see also `unknown_vendor`)")
    ] = None,
    unknown_vendor: Annotated[
        bool | None, Query(description="true: only invoices of an unknown vendor")
    ] = None,
    invoice_date_from: Annotated[date | None, Query()] = None,
    invoice_date_to: Annotated[date | None, Query()] = None,
    sort: Annotated[str | None, Query(description="e.g. `-total_amount`")] = None,
) -> Page[VendorInvoiceSummary]:
    statuses = one_of("status", status, INVOICE_STATUSES)
    query = (
        ctx.db.from_("vendor_invoices")
        .select(INVOICE_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.or_(",".join(f"{column}.ilike.*{term}*" for column in SEARCHED))
    if statuses:
        query = query.in_("status", statuses)
    if vendor_id is not None:
        query = query.eq("vendor_id", str(vendor_id))
    if unknown_vendor is True:
        query = query.is_("vendor_id", "null")
    elif unknown_vendor is False:
        query = query.not_.is_("vendor_id", "null")
    if invoice_date_from is not None:
        query = query.gte("invoice_date", invoice_date_from.isoformat())
    if invoice_date_to is not None:
        query = query.lte("invoice_date", invoice_date_to.isoformat())
    ordered = order_by(query, sort, SORTABLE, "-invoice_date", NULLABLE)
    rows, pagination = fetch_page(ordered, page)
    return Page[VendorInvoiceSummary](
        data=[VendorInvoiceSummary.model_validate(row) for row in plain(rows)],
        pagination=Pagination(**pagination),
    )
