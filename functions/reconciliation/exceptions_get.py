"""GET /api/reconciliation/exceptions/{id}: one exception with its evidence."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import ExceptionId, call, error_responses, found
from shared.context import Viewer
from shared.models.reconciliation import ReconciliationExceptionDetail

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/exceptions/{id}",
    response_model=ReconciliationExceptionDetail,
    summary="One exception with its evidence and history",
    description=(
        "The exception (type, check, severity, expected, actual, variance, message, "
        "`evidence`), its invoice, its line and the line's match evidence, and `history`: "
        "every change from the audit log (who, when, status, resolution, reason)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_exception(ctx: Viewer, exception_id: ExceptionId) -> ReconciliationExceptionDetail:
    result = call(ctx, "reconciliation_exception", {"exception_id": exception_id})
    return ReconciliationExceptionDetail.model_validate(found(result, "exception"))
