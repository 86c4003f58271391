"""GET /api/reconciliation/exceptions/{id}: one exception with its evidence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.reconciliation import ExceptionId, call, error_responses, found
from shared.api import make_handler
from shared.context import Viewer

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/exceptions/{id}",
    summary="One exception with its evidence and history",
    description=(
        "The exception (type, check, severity, expected, actual, variance, message, "
        "`evidence`), its invoice, its line and the line's match evidence, and `history`: "
        "every change from the audit log (who, when, status, resolution, reason)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_exception(ctx: Viewer, exception_id: ExceptionId) -> dict[str, Any]:
    return found(call(ctx, "reconciliation_exception", {"exception_id": exception_id}), "exception")


handler = make_handler(router)
