"""GET /api/reports/payment-status: the invoices issued in a date range by status (draft,
sent, overdue, paid, cancelled), with their share and their amounts per currency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from functions.reports import STATUSES, ReportRange, error_responses, report_range
from shared import db
from shared.context import Viewer
from shared.models.reports import PaymentStatusReport

router = APIRouter(tags=["reports"])


@router.get(
    "/api/reports/payment-status",
    response_model=PaymentStatusReport,
    summary="Invoices by payment status: counts and amounts",
    responses=error_responses(*STATUSES),
)
async def payment_status(
    ctx: Viewer, period: Annotated[ReportRange, Depends(report_range)]
) -> PaymentStatusReport:
    data = db.rpc(
        ctx.db,
        "reports_payment_status",
        {"organization_id": str(ctx.organization_id), **period.params()},
    )
    return PaymentStatusReport.model_validate(data)
