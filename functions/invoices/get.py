"""GET /api/invoices/{id}: one invoice with its client, items and payments.

Read through public.get_invoice: the shape is private.invoice_document's (migration
20261206100800_invoice_documents.sql), the one the invoice writes answer too."""

from __future__ import annotations

from fastapi import APIRouter

from functions.invoices import InvoiceId, error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.invoices import Invoice

router = APIRouter(tags=["invoices"])


@router.get(
    "/api/invoices/{id}",
    response_model=Invoice,
    summary="One invoice with its client, items and payments",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_invoice(ctx: Viewer, invoice_id: InvoiceId) -> Invoice:
    invoice = db.rpc(
        ctx.db,
        "get_invoice",
        {"organization_id": str(ctx.organization_id), "invoice_id": str(invoice_id)},
    )
    if invoice is None:
        raise not_found("invoice")
    return Invoice.model_validate(invoice)
