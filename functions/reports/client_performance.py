"""GET /api/reports/client-performance: per client, over the invoices issued in a date
range: billed, paid, outstanding, overdue, invoice count and average days to pay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from functions.reports import STATUSES, ReportRange, error_responses, report_range
from shared import db
from shared.context import Viewer
from shared.errors import validation
from shared.models.reports import ClientPerformanceReport

router = APIRouter(tags=["reports"])

SORT_FIELDS = (
    "billed",
    "paid",
    "outstanding",
    "overdue_amount",
    "invoice_count",
    "average_days_to_pay",
    "last_invoice_date",
    "name",
)


@router.get(
    "/api/reports/client-performance",
    response_model=ClientPerformanceReport,
    summary="Billed, paid, outstanding and days to pay per client",
    responses=error_responses(*STATUSES),
)
async def client_performance(
    ctx: Viewer,
    period: Annotated[ReportRange, Depends(report_range)],
    sort: Annotated[
        str, Query(description=f"one of {', '.join(SORT_FIELDS)}; - in front for descending")
    ] = "-billed",
    limit: Annotated[int, Query(ge=1, le=100, description="how many clients (at most 100)")] = 10,
    currency: Annotated[
        str | None, Query(pattern="^[A-Z]{3}$", description="only clients billing in it")
    ] = None,
) -> ClientPerformanceReport:
    sort = sort.strip()
    if sort.removeprefix("-") not in SORT_FIELDS:
        raise validation("sort", f"unknown sort field {sort!r}; use one of {list(SORT_FIELDS)}")
    params: dict[str, Any] = {
        "organization_id": str(ctx.organization_id),
        **period.params(),
        "sort_by": sort,
        "row_limit": limit,
    }
    if currency is not None:
        params["currency_code"] = currency
    data = db.rpc(ctx.db, "reports_client_performance", params)
    return ClientPerformanceReport.model_validate(data)
