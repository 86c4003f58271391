"""DELETE /api/invoices/{id}: a draft is deleted; a sent invoice is cancelled instead."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.invoices import InvoiceId, error_responses
from shared import db
from shared.context import Member
from shared.models.invoices import Invoice

router = APIRouter(tags=["invoices"])


@router.delete(
    "/api/invoices/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a draft, or cancel a sent invoice",
    description=(
        "A draft is deleted with its items: 204. A sent or overdue invoice without payments "
        "reached its client and stays on record: it is cancelled instead and answered with "
        "200 and the cancelled invoice (an invoice already cancelled is answered the same "
        "way). A paid invoice, or one with payments, is refused (422 rule_violation)."
    ),
    responses={
        200: {"model": Invoice, "description": "The invoice was sent: it is now cancelled"},
        204: {"description": "The draft was deleted"},
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def delete_invoice(ctx: Member, invoice_id: InvoiceId) -> Response:
    result = db.rpc(
        ctx.db,
        "delete_invoice",
        {"organization_id": str(ctx.organization_id), "invoice_id": str(invoice_id)},
    )
    if result.get("action") == "deleted":
        return Response(status_code=204)
    invoice = Invoice.model_validate(result["invoice"])
    return Response(invoice.model_dump_json(), status_code=200, media_type="application/json")
