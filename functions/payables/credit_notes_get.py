"""GET /api/payables/credit-notes/{id}: a vendor credit note, its lines and applications."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import CreditNoteId, call, error_responses
from shared.context import Viewer
from shared.models.payables import VendorCreditNote

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/credit-notes/{id}",
    response_model=VendorCreditNote,
    summary="A vendor credit note",
    description=(
        "Its amounts (total, applied, available), lines, the invoice it refers to (BT-25, "
        "when found among the vendor's invoices) and its applications to invoices."
    ),
    responses=error_responses(400, 401, 403, 404),
)
async def get_credit_note(ctx: Viewer, credit_note_id: CreditNoteId) -> VendorCreditNote:
    result = call(ctx, "vendor_credit_note", {"credit_note_id": credit_note_id})
    return VendorCreditNote.model_validate(result)
