"""POST /api/invoices: an invoice with its items, numbered and totalled, in one transaction."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.invoices import error_responses
from shared import db, parties
from shared.context import Member
from shared.models.invoices import Invoice, InvoiceCreate

router = APIRouter(tags=["invoices"])


@router.post(
    "/api/invoices",
    status_code=201,
    response_model=Invoice,
    summary="Create an invoice with its items",
    description=(
        "One transaction (`create_invoice`): the invoice, its items, then the discount. The "
        "number comes from the organization's prefix and counter unless given (a number "
        "already used is a 409); a failed creation consumes no number. The currency is the "
        "client's; the terms, tax rate, template, notes, terms and payment instructions "
        "default to the organization's settings; the due date follows the terms. `status` "
        "may be `sent` to create and mark it sent at once."
    ),
    responses=error_responses(400, 401, 403, 409, 422),
)
async def create_invoice(ctx: Member, body: InvoiceCreate, response: Response) -> Invoice:
    document = db.rpc(
        ctx.db,
        "create_invoice",
        {
            "organization_id": str(ctx.organization_id),
            "invoice": parties.seal_document_instructions(ctx.organization_id, body.invoice_json()),
            "items": body.items_json(),
        },
    )
    invoice = Invoice.model_validate(document)
    response.headers["Location"] = f"/api/invoices/{invoice.id}"
    return invoice
