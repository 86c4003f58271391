"""POST /api/payables/approvals/{id}/reassign: hand the pending step to one member."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import InvoiceId, call, error_responses
from shared.context import Member
from shared.models.payables import ApprovalReassign, InvoiceApproval

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/approvals/{id}/reassign",
    response_model=InvoiceApproval,
    summary="Reassign a vendor invoice's pending step to a member",
    description=(
        'Body `{"member": "<user id>"}` (required): a member (member role or above) whom '
        "separation of duties allows to approve it. An admin or an approver of the step "
        "reassigns. In the audit log."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def reassign(
    ctx: Member, invoice_id: InvoiceId, body: ApprovalReassign | None = None
) -> InvoiceApproval:
    member = body.member if body else None
    result = call(
        ctx, "reassign_vendor_invoice_approval", {"invoice_id": invoice_id, "member": member}
    )
    return InvoiceApproval.model_validate(result)
