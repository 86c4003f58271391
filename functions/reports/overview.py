"""GET /api/reports/overview: what was billed, paid, outstanding and collected over a
date range, per currency, with invoice counts by status and client counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from functions.reports import STATUSES, ReportRange, error_responses, report_range
from shared import db
from shared.context import Viewer
from shared.models.reports import ReportsOverview

router = APIRouter(tags=["reports"])


@router.get(
    "/api/reports/overview",
    response_model=ReportsOverview,
    summary="Billed, paid, outstanding and collected over a date range",
    responses=error_responses(*STATUSES),
)
async def overview(
    ctx: Viewer, period: Annotated[ReportRange, Depends(report_range)]
) -> ReportsOverview:
    data = db.rpc(
        ctx.db, "reports_overview", {"organization_id": str(ctx.organization_id), **period.params()}
    )
    return ReportsOverview.model_validate(data)
