"""POST /api/reconciliation/exceptions/{id}/resolve: accept, dismiss, reject or link."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import ExceptionId, call, error_responses, found
from shared.context import Member
from shared.models.reconciliation import ExceptionResolve, ReconciliationExceptionDetail

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/exceptions/{id}/resolve",
    response_model=ReconciliationExceptionDetail,
    summary="Resolve an exception",
    description=(
        'Body `{"action": ..., "reason": "..."}` (both required). `accept`: the variance '
        "is fine (resolved; the invoice is re-matched and is matched_with_tolerance once "
        "nothing else is open); `dismiss`: not a real problem (dismissed, likewise); "
        "`reject`: the invoice is rejected (every open exception of it resolved as "
        "rejected; never re-matched); `link` with exactly one of `purchase_order_id`, "
        "`goods_receipt_id` (its purchase order) or `purchase_order_line_id` (a line's "
        "exception): the link is kept by matching and the invoice re-matched. The decision, "
        "the person and the reason are in the audit log (`history`). Answers the exception."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def resolve_exception(
    ctx: Member, exception_id: ExceptionId, body: ExceptionResolve | None = None
) -> ReconciliationExceptionDetail:
    body = body or ExceptionResolve()
    result = call(
        ctx,
        "resolve_reconciliation_exception",
        {
            "exception_id": exception_id,
            "action": body.action,
            "reason": body.reason,
            "purchase_order_id": body.purchase_order_id,
            "purchase_order_line_id": body.purchase_order_line_id,
            "goods_receipt_id": body.goods_receipt_id,
        },
    )
    return ReconciliationExceptionDetail.model_validate(found(result, "exception"))
