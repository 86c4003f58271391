"""POST /api/payables/credit-notes/{id}/apply: apply a vendor credit note to an invoice."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import CreditNoteId, call, error_responses
from shared.context import Member
from shared.models.payables import CreditApply, VendorCreditNote

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/credit-notes/{id}/apply",
    response_model=VendorCreditNote,
    summary="Apply a vendor credit note to an approved, unpaid invoice",
    description=(
        '`{"vendor_invoice_id": "...", "amount": "100.00"}`: an approved, unpaid invoice '
        "of the credit note's vendor, in its currency; `amount` at most the credit "
        "available and the invoice's open amount (default: as much as both allow), so a "
        "transfer never turns negative. A payment batch then pays the net. Members and "
        "above; in the audit log."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def apply_credit_note(
    ctx: Member, credit_note_id: CreditNoteId, body: CreditApply | None = None
) -> VendorCreditNote:
    body = body or CreditApply()
    result = call(
        ctx,
        "apply_vendor_credit_note",
        {
            "credit_note_id": credit_note_id,
            "invoice_id": None if body.vendor_invoice_id is None else str(body.vendor_invoice_id),
            "amount": None if body.amount is None else str(body.amount),
        },
    )
    return VendorCreditNote.model_validate(result)
