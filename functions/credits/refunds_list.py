"""GET /api/refunds: the organization's refunds."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.credits import error_responses
from shared.context import Viewer
from shared.listing import PageParams, fetch_page, one_of, order_by, page_params, ranges, uuids
from shared.models.common import Page
from shared.models.credits import REFUND_SELECT, REFUND_SOURCES, Refund

router = APIRouter(tags=["refunds"])

SORTABLE = {"refund_date", "amount", "created_at"}
DEFAULT_SORT = "-refund_date,-created_at"


@router.get(
    "/api/refunds",
    response_model=Page[Refund],
    summary="List refunds",
    description=(
        "Filters: `client_id`, `invoice_id`, `payment_id`, `source` (payment, credit; "
        "comma-separated values), `refund_date_from`/`_to` (inclusive). Sort by "
        "`refund_date`, `amount`, `created_at` (default `-refund_date,-created_at`)."
    ),
    responses=error_responses(401, 403, 422),
)
async def list_refunds(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    sort: Annotated[str | None, Query(description="e.g. -refund_date,amount")] = None,
    client_id: Annotated[str | None, Query(description="client ids, comma-separated")] = None,
    invoice_id: Annotated[str | None, Query(description="invoice ids, comma-separated")] = None,
    payment_id: Annotated[str | None, Query(description="payment ids, comma-separated")] = None,
    source: Annotated[str | None, Query(description="payment, credit (comma-separated)")] = None,
    refund_date_from: date | None = None,
    refund_date_to: date | None = None,
) -> Page[Refund]:
    query = (
        ctx.db.from_("refunds")
        .select(REFUND_SELECT, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    for column, raw in (
        ("client_id", client_id),
        ("invoice_id", invoice_id),
        ("payment_id", payment_id),
    ):
        if ids := uuids(column, raw):
            query = query.in_(column, ids)
    if sources := one_of("source", source, REFUND_SOURCES):
        query = query.in_("source", sources)
    query = ranges(query, {"refund_date": (refund_date_from, refund_date_to)}, refuse_reversed=True)
    query = order_by(query, sort, SORTABLE, DEFAULT_SORT)
    rows, pagination = fetch_page(query, page)
    return Page[Refund].model_validate({"data": rows, "pagination": pagination})
