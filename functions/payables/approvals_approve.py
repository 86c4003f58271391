"""POST /api/payables/approvals/{id}/approve: approve the invoice's pending step."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import InvoiceId, call, error_responses
from shared.context import Member
from shared.models.payables import ApprovalApprove, InvoiceApproval

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/approvals/{id}/approve",
    response_model=InvoiceApproval,
    summary="Approve a vendor invoice's pending step",
    description=(
        "As an approver of the step, not kept from it by separation of duties (403 says "
        'why). Optional body `{"reason": "..."}`. After the last step the invoice is '
        "`approved`; otherwise the next step becomes pending. In the audit log."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def approve(
    ctx: Member, invoice_id: InvoiceId, body: ApprovalApprove | None = None
) -> InvoiceApproval:
    reason = body.reason if body else None
    result = call(
        ctx,
        "decide_vendor_invoice_approval",
        {"invoice_id": invoice_id, "decision": "approve", "reason": reason},
    )
    return InvoiceApproval.model_validate(result)
