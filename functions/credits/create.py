"""POST /api/credit-notes: a credit note against a sent, overdue or paid invoice.

One SQL function (create_credit_note) locks the invoice, prices and numbers the credit
note, lowers the invoice's balance and moves what passes it to the client's credit.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.credits import error_responses
from shared import db
from shared.context import Member
from shared.models.credits import CreditNote, CreditNoteCreate

router = APIRouter(tags=["credit notes"])


@router.post(
    "/api/credit-notes",
    response_model=CreditNote,
    status_code=201,
    summary="Issue a credit note",
    description=(
        "`kind`: `whole` (what the invoice has not yet credited), `lines` (items and "
        "quantities, at most what is not yet credited of each) or `amount` (tax included). "
        "All the credit notes of an invoice credit at most its total (`422 rule_violation` "
        "otherwise, naming what is left). What would take the invoice below zero goes to "
        "the client's credit (`credit_amount`); a credit note for the whole invoice cancels it."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def create_credit_note(body: CreditNoteCreate, ctx: Member) -> CreditNote:
    document = db.rpc(
        ctx.db,
        "create_credit_note",
        {
            "organization_id": str(ctx.organization_id),
            "invoice_id": str(body.invoice_id),
            "credit_note": body.credit_note_json(),
        },
    )
    return CreditNote.model_validate(document)
