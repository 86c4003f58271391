"""GET /api/dashboard/metrics: revenue this month against last month, outstanding and
overdue balances, invoices paid this month, average days to pay and invoice counts, per
currency (the organization's default currency first)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.dashboard import STATUSES, error_responses
from shared import db
from shared.context import Viewer
from shared.models.reports import DashboardMetrics

router = APIRouter(tags=["dashboard"])


@router.get(
    "/api/dashboard/metrics",
    response_model=DashboardMetrics,
    summary="Headline figures of the organization, per currency",
    responses=error_responses(*STATUSES),
)
async def metrics(ctx: Viewer) -> DashboardMetrics:
    data = db.rpc(ctx.db, "dashboard_metrics", {"organization_id": str(ctx.organization_id)})
    return DashboardMetrics.model_validate(data)
