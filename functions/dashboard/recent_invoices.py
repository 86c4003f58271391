"""GET /api/dashboard/recent-invoices: the latest invoices (every status), newest issue
date first, with their client's name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from functions.dashboard import STATUSES, error_responses
from shared import db
from shared.context import Viewer
from shared.models.reports import RecentInvoices

router = APIRouter(tags=["dashboard"])


@router.get(
    "/api/dashboard/recent-invoices",
    response_model=RecentInvoices,
    summary="The latest invoices",
    responses=error_responses(*STATUSES),
)
async def recent_invoices(
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=50, description="how many (at most 50)")] = 5,
) -> RecentInvoices:
    data = db.rpc(
        ctx.db,
        "dashboard_recent_invoices",
        {"organization_id": str(ctx.organization_id), "row_limit": limit},
    )
    return RecentInvoices.model_validate(data)
