"""GET /api/credit-notes: the organization's credit notes, each with its invoice and client."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.credits import error_responses
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
from shared.models.common import Page
from shared.models.credits import CREDIT_NOTE_KINDS, CREDIT_NOTE_SELECT, CreditNoteSummary

router = APIRouter(tags=["credit notes"])

SORTABLE = {"issue_date", "total_amount", "credit_note_number", "created_at"}
DEFAULT_SORT = "-issue_date,-created_at"


@router.get(
    "/api/credit-notes",
    response_model=Page[CreditNoteSummary],
    summary="List credit notes",
    description=(
        "Filters: `invoice_id`, `client_id`, `kind` (comma-separated values), "
        "`issue_date_from`/`_to` (inclusive); `q` searches the number. Sort by `issue_date`, "
        "`total_amount`, `credit_note_number`, `created_at` (default `-issue_date,-created_at`)."
    ),
    responses=error_responses(401, 403, 422),
)
async def list_credit_notes(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    sort: Annotated[str | None, Query(description="e.g. -issue_date,total_amount")] = None,
    q: Annotated[str | None, Query(max_length=200, description="in the number")] = None,
    invoice_id: Annotated[str | None, Query(description="invoice ids, comma-separated")] = None,
    client_id: Annotated[str | None, Query(description="client ids, comma-separated")] = None,
    kind: Annotated[
        str | None, Query(description="comma-separated: " + ", ".join(CREDIT_NOTE_KINDS))
    ] = None,
    issue_date_from: date | None = None,
    issue_date_to: date | None = None,
) -> Page[CreditNoteSummary]:
    query = (
        ctx.db.from_("credit_notes")
        .select(CREDIT_NOTE_SELECT, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if invoices := uuids("invoice_id", invoice_id):
        query = query.in_("invoice_id", invoices)
    if clients := uuids("client_id", client_id):
        query = query.in_("client_id", clients)
    if kinds := one_of("kind", kind, CREDIT_NOTE_KINDS):
        query = query.in_("kind", kinds)
    query = ranges(query, {"issue_date": (issue_date_from, issue_date_to)}, refuse_reversed=True)
    if q and (term := escape_like(q.strip())):
        query = query.ilike("credit_note_number", f"*{term}*")
    query = order_by(query, sort, SORTABLE, DEFAULT_SORT)
    rows, pagination = fetch_page(query, page)
    return Page[CreditNoteSummary].model_validate({"data": rows, "pagination": pagination})
