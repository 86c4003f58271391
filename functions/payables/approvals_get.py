"""GET /api/payables/approvals/{id}: a vendor invoice's approval steps, every round."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import InvoiceId, call, error_responses
from shared.context import Viewer
from shared.models.payables import InvoiceApproval

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/approvals/{id}",
    response_model=InvoiceApproval,
    summary="A vendor invoice's approval steps",
    description=(
        "Every round (newest first) and step: its rule, approvers, status (waiting, "
        "pending, approved, rejected, superseded), who decided, when and why."
    ),
    responses=error_responses(400, 401, 403, 404),
)
async def invoice_approval(ctx: Viewer, invoice_id: InvoiceId) -> InvoiceApproval:
    return InvoiceApproval.model_validate(
        call(ctx, "vendor_invoice_approval", {"invoice_id": invoice_id})
    )
