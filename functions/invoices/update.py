"""PUT /api/invoices/{id}: a partial update of an invoice and its items, in one transaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.invoices import InvoiceId, error_responses
from shared import db, parties
from shared.context import Member
from shared.models.invoices import Invoice, InvoiceUpdate

router = APIRouter(tags=["invoices"])


def _changes(ctx: Member, invoice_id: Any, body: InvoiceUpdate) -> dict[str, Any]:
    """The changes, without ``payment_instructions`` when they are what the invoice has:
    sealed again they would differ (a new envelope), and a paid or cancelled invoice
    refuses any change but its notes, so a PUT of the invoice as read must not change them."""
    changes = body.changes_json()
    wanted = changes.get("payment_instructions")
    if not isinstance(wanted, str):
        return changes
    rows = db.run(
        ctx.db.from_("invoices")
        .select("payment_instructions,payment_instructions_sealed")
        .eq("id", str(invoice_id))
        .eq("organization_id", str(ctx.organization_id))
        .limit(1)
    ).data
    if rows:
        current = parties.open_sealed(
            rows[0]["payment_instructions_sealed"],
            parties.payment_instructions_context(ctx.organization_id),
        )
        if (current or rows[0]["payment_instructions"]) == wanted:
            return {key: value for key, value in changes.items() if key != "payment_instructions"}
    return changes


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
        "changes": parties.seal_document_instructions(
            ctx.organization_id, _changes(ctx, invoice_id, body)
        ),
    }
    items = body.items_json()
    if items is not None:
        params["items"] = items
        params["items_mode"] = body.items_mode
    return Invoice.model_validate(db.rpc(ctx.db, "update_invoice", params))
