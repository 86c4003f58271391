"""PUT /api/invoices/{id}: a partial update of an invoice and its items, in one transaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.invoices import InvoiceId, error_responses
from shared import db, parties
from shared.context import Member
from shared.models.invoices import Invoice, InvoiceUpdate

router = APIRouter(tags=["invoices"])


@router.put(
    "/api/invoices/{id}",
    response_model=Invoice,
    summary="Change an invoice and its items",
    description=(
        "The fields present change (`null` clears notes, terms, payment_instructions). "
        "`items` with `items_mode=replace` (default) is the whole new list (entries with an "
        "`id` update that item, without one add an item, unlisted items are removed); with "
        '`items_mode=patch` only the listed items change (`{"id": …, "_delete": true}` '
        "removes one). Drafts change freely; sent/overdue invoices keep their client, number "
        "and issue date, and their items, tax rate and discount once a payment is recorded; "
        "paid and cancelled invoices change only their notes. `status`: draft → `sent`, or "
        "→ `cancelled` (no payments)."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def update_invoice(ctx: Member, invoice_id: InvoiceId, body: InvoiceUpdate) -> Invoice:
    params: dict[str, Any] = {
        "organization_id": str(ctx.organization_id),
        "invoice_id": str(invoice_id),
        "changes": parties.seal_document_instructions(ctx.organization_id, body.changes_json()),
    }
    items = body.items_json()
    if items is not None:
        params["items"] = items
        params["items_mode"] = body.items_mode
    return Invoice.model_validate(db.rpc(ctx.db, "update_invoice", params))
