"""GET /api/quotes: the organization's quotes, searched, filtered, sorted and paged (the
conventions of GET /api/invoices)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.quotes import error_responses
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
from shared.models.quotes import STATUSES, QuoteSummary

router = APIRouter(tags=["quotes"])

# The list reads the quote_list view (quotes + the client's name).
COLUMNS = (
    "id,client_id,client_company_name,quote_number,issue_date,valid_until,status,currency,"
    "subtotal,tax_rate,tax_amount,discount,total_amount,template,invoice_id,sent_at,"
    "accepted_at,declined_at,expired_at,converted_at,created_at,updated_at"
)
SORTABLE = {
    "quote_number",
    "issue_date",
    "valid_until",
    "total_amount",
    "status",
    "created_at",
    "client_company_name",
}
SORT_ALIASES = {"total": "total_amount", "client": "client_company_name"}
DEFAULT_SORT = "-issue_date"


@router.get(
    "/api/quotes",
    response_model=Page[QuoteSummary],
    summary="List the organization's quotes",
    description=(
        "Search (`q`: quote number or client company name), filter (`status`, `client_id`: "
        "comma-separated values; inclusive `issue_date_`, `valid_until_`, `total_` "
        "`_from`/`_to` ranges), sort (`sort`: "
        f"{', '.join(sorted(SORTABLE))}, `total` and `client` for short; default "
        f"`{DEFAULT_SORT}`) and page. Rows carry the client's id and company name, no items."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_quotes(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive substring of number or client name"),
    ] = None,
    status: Annotated[
        str | None,
        Query(description="draft, sent, accepted, declined, expired, converted (comma-separated)"),
    ] = None,
    client_id: Annotated[str | None, Query(description="Client ids (comma-separated)")] = None,
    issue_date_from: Annotated[date | None, Query()] = None,
    issue_date_to: Annotated[date | None, Query()] = None,
    valid_until_from: Annotated[date | None, Query()] = None,
    valid_until_to: Annotated[date | None, Query()] = None,
    total_from: Annotated[Decimal | None, Query(description="total_amount at least")] = None,
    total_to: Annotated[Decimal | None, Query(description="total_amount at most")] = None,
    sort: Annotated[str | None, Query(description="e.g. -issue_date,quote_number")] = None,
) -> Page[QuoteSummary]:
    query = (
        ctx.db.from_("quote_list")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    statuses = one_of("status", status, STATUSES)
    if statuses:
        query = query.in_("status", statuses)
    clients = uuids("client_id", client_id)
    if clients:
        query = query.in_("client_id", clients)
    query = ranges(
        query,
        {
            "issue_date": (issue_date_from, issue_date_to),
            "valid_until": (valid_until_from, valid_until_to),
            "total_amount": (total_from, total_to),
        },
    )
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.or_(f"quote_number.ilike.%{term}%,client_company_name.ilike.%{term}%")
    query = order_by(query, sort, SORTABLE, DEFAULT_SORT, aliases=SORT_ALIASES)
    rows, pagination = fetch_page(query, page)
    return Page[QuoteSummary](
        data=[QuoteSummary.from_row(row) for row in rows],
        pagination=Pagination(**pagination),
    )
