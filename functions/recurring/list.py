"""GET /api/recurring-profiles: the organization's recurring profiles, filtered, sorted,
paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.recurring import error_responses
from shared.context import Viewer
from shared.listing import PageParams, escape_like, fetch_page, one_of, order_by, page_params, uuids
from shared.models.common import Page, Pagination
from shared.models.recurring import STATUSES, RecurringProfileSummary

router = APIRouter(tags=["recurring"])

COLUMNS = (
    "id,client_id,client_company_name,name,currency,frequency,interval_unit,interval_count,"
    "billing_day,start_date,end_date,max_cycles,auto_send,status,ended_reason,"
    "first_billing_date,next_billing_date,cycles_issued,last_issued_at,created_at,updated_at"
)
SORTABLE = {
    "next_billing_date",
    "start_date",
    "created_at",
    "name",
    "status",
    "cycles_issued",
    "client_company_name",
}
SORT_ALIASES = {"client": "client_company_name"}
NULLABLE = frozenset({"next_billing_date", "name"})
DEFAULT_SORT = "next_billing_date"
FREQUENCIES = ("monthly", "quarterly", "annually", "custom")


@router.get(
    "/api/recurring-profiles",
    response_model=Page[RecurringProfileSummary],
    summary="List the organization's recurring profiles",
    description=(
        "Search (`q`: profile name or client company name), filter (`status`, `client_id`, "
        "`frequency`: comma-separated values), sort (`sort`: "
        f"{', '.join(sorted(SORTABLE))}, `client` for short; default `{DEFAULT_SORT}`, "
        "ended profiles, which have none, last) and page. Rows carry no items."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_recurring_profiles(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive substring of name or client name"),
    ] = None,
    status: Annotated[
        str | None, Query(description="active, paused, ended (comma-separated)")
    ] = None,
    client_id: Annotated[str | None, Query(description="Client ids (comma-separated)")] = None,
    frequency: Annotated[
        str | None, Query(description="monthly, quarterly, annually, custom (comma-separated)")
    ] = None,
    sort: Annotated[str | None, Query(description="e.g. next_billing_date,-created_at")] = None,
) -> Page[RecurringProfileSummary]:
    query = (
        ctx.db.from_("recurring_profile_list")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    statuses = one_of("status", status, STATUSES)
    if statuses:
        query = query.in_("status", statuses)
    clients = uuids("client_id", client_id)
    if clients:
        query = query.in_("client_id", clients)
    frequencies = one_of("frequency", frequency, FREQUENCIES)
    if frequencies:
        query = query.in_("frequency", frequencies)
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.or_(f"name.ilike.%{term}%,client_company_name.ilike.%{term}%")
    query = order_by(query, sort, SORTABLE, DEFAULT_SORT, NULLABLE, aliases=SORT_ALIASES)
    rows, pagination = fetch_page(query, page)
    return Page[RecurringProfileSummary](
        data=[RecurringProfileSummary.model_validate(row) for row in rows],
        pagination=Pagination(**pagination),
    )
