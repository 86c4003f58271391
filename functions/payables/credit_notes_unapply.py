"""POST /api/payables/credit-notes/{id}/unapply: take a credit note off an unpaid invoice."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import CreditNoteId, call, error_responses
from shared.context import Member
from shared.models.payables import CreditUnapply, VendorCreditNote

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/credit-notes/{id}/unapply",
    response_model=VendorCreditNote,
    summary="Unapply a vendor credit note from an invoice not paid yet",
    description=(
        '`{"vendor_invoice_id": "..."}`: the credit applied to that invoice is available '
        "again; refused (422) once the invoice is paid. Members and above; in the audit log."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def unapply_credit_note(
    ctx: Member, credit_note_id: CreditNoteId, body: CreditUnapply | None = None
) -> VendorCreditNote:
    body = body or CreditUnapply()
    result = call(
        ctx,
        "unapply_vendor_credit_note",
        {
            "credit_note_id": credit_note_id,
            "invoice_id": None if body.vendor_invoice_id is None else str(body.vendor_invoice_id),
        },
    )
    return VendorCreditNote.model_validate(result)
