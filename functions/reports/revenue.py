"""GET /api/reports/revenue: billed and collected per month, quarter or year over a date
range, one zero-filled series per currency, and the top clients of each currency."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from functions.reports import STATUSES, ReportRange, error_responses, report_range
from shared import db
from shared.context import Viewer
from shared.models.reports import GroupBy, RevenueReport

router = APIRouter(tags=["reports"])


@router.get(
    "/api/reports/revenue",
    response_model=RevenueReport,
    summary="Billed and collected per period and per client",
    responses=error_responses(*STATUSES, 404),
)
async def revenue(
    ctx: Viewer,
    period: Annotated[ReportRange, Depends(report_range)],
    group_by: Annotated[GroupBy, Query(description="month, quarter or year")] = "month",
    client_id: Annotated[UUID | None, Query(description="only this client")] = None,
    client_limit: Annotated[
        int, Query(ge=1, le=100, description="top clients listed per currency")
    ] = 10,
) -> RevenueReport:
    params: dict[str, Any] = {
        "organization_id": str(ctx.organization_id),
        **period.params(),
        "group_by": group_by,
        "client_limit": client_limit,
    }
    if client_id is not None:
        params["client_id"] = str(client_id)
    data = db.rpc(ctx.db, "reports_revenue", params)
    return RevenueReport.model_validate(data)
