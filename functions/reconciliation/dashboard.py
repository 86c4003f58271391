"""GET /api/reconciliation/dashboard: outcomes, exception reasons, vendors with variances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from functions.reconciliation import call, error_responses
from shared.context import Viewer
from shared.errors import validation
from shared.models.common import Day
from shared.models.reconciliation import ReconciliationDashboard

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/dashboard",
    response_model=ReconciliationDashboard,
    summary="The reconciliation dashboard for a date range",
    description=(
        "For vendor invoices dated in [`date_from`, `date_to`] (each optional): counts and "
        "amounts by status and currency (`by_outcome`), open exceptions by severity, the "
        "top exception reasons (type and check), the vendors with the most variances and "
        "the most frequent unknown vendor names. One SQL function, one round trip."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def dashboard(
    ctx: Viewer,
    date_from: Annotated[Day | None, Query(description="years 1900 to 2200")] = None,
    date_to: Annotated[Day | None, Query(description="years 1900 to 2200")] = None,
) -> ReconciliationDashboard:
    if date_from and date_to and date_from > date_to:
        raise validation("date_to", "must not be before date_from")
    result = call(
        ctx,
        "reconciliation_dashboard",
        {
            "date_from": date_from.isoformat() if date_from else None,
            "date_to": date_to.isoformat() if date_to else None,
        },
    )
    return ReconciliationDashboard.model_validate(result)
