"""POST /api/payables/approvals/{id}/reject: reject the invoice, with a reason."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import InvoiceId, call, error_responses
from shared.context import Member
from shared.models.payables import ApprovalReject, InvoiceApproval

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/approvals/{id}/reject",
    response_model=InvoiceApproval,
    summary="Reject a vendor invoice at its pending step",
    description=(
        'Body `{"reason": "..."}` (required, 1-1000 characters). The invoice becomes '
        "`rejected` (never matched again); its later steps are superseded. As an approver "
        "of the step, under separation of duties. In the audit log."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def reject(
    ctx: Member, invoice_id: InvoiceId, body: ApprovalReject | None = None
) -> InvoiceApproval:
    reason = body.reason if body else None
    result = call(
        ctx,
        "decide_vendor_invoice_approval",
        {"invoice_id": invoice_id, "decision": "reject", "reason": reason},
    )
    return InvoiceApproval.model_validate(result)
