"""GET /api/dashboard/revenue-chart: billed and collected per calendar month, one
zero-filled series per currency (the organization's default currency first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from functions.dashboard import STATUSES, error_responses
from shared import db
from shared.context import Viewer
from shared.models.common import Day
from shared.models.reports import RevenueChart

router = APIRouter(tags=["dashboard"])


@router.get(
    "/api/dashboard/revenue-chart",
    response_model=RevenueChart,
    summary="Monthly billed and collected amounts, per currency",
    responses=error_responses(*STATUSES),
)
async def revenue_chart(
    ctx: Viewer,
    months: Annotated[int, Query(ge=1, le=36, description="how many months (1 to 36)")] = 12,
    end_month: Annotated[
        Day | None,
        Query(description="any day of the last month shown (years 1900 to 2200); default: today"),
    ] = None,
) -> RevenueChart:
    params: dict[str, Any] = {"organization_id": str(ctx.organization_id), "months": months}
    if end_month is not None:
        params["end_month"] = end_month.isoformat()
    data = db.rpc(ctx.db, "dashboard_revenue_chart", params)
    return RevenueChart.model_validate(data)
