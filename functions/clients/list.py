"""GET /api/clients: the organization's clients, searched, filtered, sorted and paged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.clients import CLIENT_COLUMNS, error_responses, opened
from shared import parties
from shared.context import Viewer
from shared.listing import (
    PageParams,
    escape_like,
    fetch_page,
    one_of,
    order_by,
    page_params,
    ranges,
)
from shared.models.clients import BILLING_FREQUENCIES, CLIENT_STATUSES, Client
from shared.models.common import Page, Pagination

router = APIRouter(tags=["clients"])

NULLABLE = frozenset({"last_invoice_date"})  # clients never invoiced sort last either way
SORTABLE = {
    "company_name",
    "created_at",
    "total_billed",
    "outstanding_balance",
    "last_invoice_date",
}
SEARCHED = ("company_name", "contact_person", "email")


@router.get(
    "/api/clients",
    response_model=Page[Client],
    summary="List the organization's clients",
    description=(
        "Search (`q`: company name, contact person, email), filter (`status`, "
        "`billing_frequency`: comma-separated values; inclusive `_from`/`_to` ranges; "
        "`vat_id`: the client with that VAT id, found by its keyed hash), sort "
        f"(`sort`: {', '.join(sorted(SORTABLE))}; default `company_name`) and page."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_clients(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive substring of name, contact, email"),
    ] = None,
    status: Annotated[
        str | None, Query(description="active, inactive, pending (comma-separated)")
    ] = None,
    billing_frequency: Annotated[
        str | None, Query(description="monthly, quarterly, annually, one-time (comma-separated)")
    ] = None,
    total_billed_from: Annotated[Decimal | None, Query()] = None,
    total_billed_to: Annotated[Decimal | None, Query()] = None,
    outstanding_balance_from: Annotated[Decimal | None, Query()] = None,
    outstanding_balance_to: Annotated[Decimal | None, Query()] = None,
    last_invoice_date_from: Annotated[date | None, Query()] = None,
    last_invoice_date_to: Annotated[date | None, Query()] = None,
    vat_id: Annotated[
        str | None,
        Query(max_length=40, description="The client with this VAT id (by its keyed hash)"),
    ] = None,
    sort: Annotated[
        str | None,
        Query(description="Up to three fields, `-` for descending, e.g. `-outstanding_balance`"),
    ] = None,
) -> Page[Client]:
    statuses = one_of("status", status, CLIENT_STATUSES)
    frequencies = one_of("billing_frequency", billing_frequency, BILLING_FREQUENCIES)
    query = (
        ctx.db.from_("clients")
        .select(CLIENT_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.or_(",".join(f"{column}.ilike.*{term}*" for column in SEARCHED))
    if statuses:
        query = query.in_("status", statuses)
    if frequencies:
        query = query.in_("billing_frequency", frequencies)
    if vat_id and vat_id.strip():
        query = query.eq("vat_id_hash", parties.vat_id_hash(vat_id))
    query = ranges(
        query,
        {
            "total_billed": (total_billed_from, total_billed_to),
            "outstanding_balance": (outstanding_balance_from, outstanding_balance_to),
            "last_invoice_date": (last_invoice_date_from, last_invoice_date_to),
        },
    )
    ordered = order_by(query, sort, SORTABLE, "company_name", NULLABLE)
    rows, pagination = fetch_page(ordered, page)
    return Page[Client](
        data=[Client.model_validate(opened(row)) for row in rows],
        pagination=Pagination(**pagination),
    )
