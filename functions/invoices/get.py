"""GET /api/invoices/{id}: one invoice with its client, items and payments."""

from __future__ import annotations

from fastapi import APIRouter

from functions.invoices import INVOICE_SELECT, InvoiceId, error_responses
from shared import db
from shared.api import make_handler
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
    rows = db.run(
        ctx.db.from_("invoices")
        .select(INVOICE_SELECT)
        .eq("id", str(invoice_id))
        .eq("organization_id", str(ctx.organization_id))
        .order("position", foreign_table="items")
        .order("created_at", foreign_table="items")
        .order("id", foreign_table="items")
        .order("payment_date", foreign_table="payments")
        .order("created_at", foreign_table="payments")
        .order("id", foreign_table="payments")
        .limit(1)
    ).data
    if not rows:
        raise not_found("invoice")
    return Invoice.model_validate(rows[0])


handler = make_handler(router)
