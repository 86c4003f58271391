"""GET /api/invoices: the organization's invoices, searched, filtered, sorted and paged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.invoices import error_responses
from shared.context import Viewer
from shared.listing import (
    PageParams,
    escape_like,
    fetch_page,
    one_of,
    order_by,
    page_params,
    ranges,
    uuids,
)
from shared.models.common import Page, Pagination
from shared.models.invoices import STATUSES, InvoiceSummary

router = APIRouter(tags=["invoices"])

# The list reads the invoice_list view (invoices + the client's name + is_overdue).
COLUMNS = (
    "id,client_id,client_company_name,invoice_number,issue_date,due_date,payment_terms,status,"
    "currency,subtotal,tax_rate,tax_amount,discount,total_amount,amount_paid,amount_credited,"
    "balance_due,"
    "template,sent_at,paid_at,cancelled_at,created_at,updated_at"
)
SORTABLE = {
    "invoice_number",
    "issue_date",
    "due_date",
    "total_amount",
    "balance_due",
    "status",
    "created_at",
    "client_company_name",
}
# Shorter names the sort accepts too.
SORT_ALIASES = {"total": "total_amount", "client": "client_company_name"}
DEFAULT_SORT = "-issue_date"


@router.get(
    "/api/invoices",
    response_model=Page[InvoiceSummary],
    summary="List the organization's invoices",
    description=(
        "Search (`q`: invoice number or client company name), filter (`status`, `client_id`: "
        "comma-separated values; `overdue=true`: overdue, or sent and past due; inclusive "
        "`issue_date_`, `due_date_`, `total_` `_from`/`_to` ranges), sort (`sort`: "
        f"{', '.join(sorted(SORTABLE))}, `total` and `client` for short; default "
        f"`{DEFAULT_SORT}`) and page. Rows carry the client's id and company name, no items."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_invoices(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive substring of number or client name"),
    ] = None,
    status: Annotated[
        str | None, Query(description="draft, sent, paid, overdue, cancelled (comma-separated)")
    ] = None,
    client_id: Annotated[str | None, Query(description="Client ids (comma-separated)")] = None,
    overdue: Annotated[
        bool | None,
        Query(description="true: overdue, or sent and past due; false: the others"),
    ] = None,
    issue_date_from: Annotated[date | None, Query()] = None,
    issue_date_to: Annotated[date | None, Query()] = None,
    due_date_from: Annotated[date | None, Query()] = None,
    due_date_to: Annotated[date | None, Query()] = None,
    total_from: Annotated[Decimal | None, Query(description="total_amount at least")] = None,
    total_to: Annotated[Decimal | None, Query(description="total_amount at most")] = None,
    sort: Annotated[str | None, Query(description="e.g. -issue_date,invoice_number")] = None,
) -> Page[InvoiceSummary]:
    query = (
        ctx.db.from_("invoice_list")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    statuses = one_of("status", status, STATUSES)
    if statuses:
        query = query.in_("status", statuses)
    clients = uuids("client_id", client_id)
    if clients:
        query = query.in_("client_id", clients)
    if overdue is not None:
        query = query.is_("is_overdue", overdue)
    query = ranges(
        query,
        {
            "issue_date": (issue_date_from, issue_date_to),
            "due_date": (due_date_from, due_date_to),
            "total_amount": (total_from, total_to),
        },
    )
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.or_(f"invoice_number.ilike.%{term}%,client_company_name.ilike.%{term}%")
    query = order_by(query, sort, SORTABLE, DEFAULT_SORT, aliases=SORT_ALIASES)
    rows, pagination = fetch_page(query, page)
    return Page[InvoiceSummary](
        data=[InvoiceSummary.model_validate(row) for row in rows],
        pagination=Pagination(**pagination),
    )
