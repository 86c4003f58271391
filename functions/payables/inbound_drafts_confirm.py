"""POST /api/payables/inbound/drafts/{id}/confirm: the draft becomes a vendor invoice.

The draft's fields as read from the PDF, each replaced by the body's when given, are
validated as a JSON import's invoice (the same checks, the same 422s) and imported in
one call (a batch of its own, source email, with the confirming member as importer),
then matched like any imported invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from functions.payables import call, error_responses, plain
from functions.payables.inbound import DRAFT_COLUMNS, DraftId, one
from shared.context import Member
from shared.errors import ApiError
from shared.models.inbound import DraftConfirm, DraftConfirmed
from shared.reconciliation import imports
from shared.reconciliation.ingest import validate_json

router = APIRouter(tags=["payables"])

FIELDS = ("vendor_name", "invoice_number", "invoice_date", "due_date", "po_number", "currency")


def document(draft: dict[str, Any], body: DraftConfirm) -> dict[str, Any]:
    given = body.to_json(exclude_unset=True)
    doc: dict[str, Any] = {name: given.get(name, draft.get(name)) for name in FIELDS}
    total = given.get("total_amount", draft.get("total_amount"))
    tax = given.get("tax_amount", draft.get("tax_amount"))
    if tax is not None:
        doc["tax_amount"] = str(tax)
    if total is not None:
        doc["total_amount"] = str(total)
    if body.lines is not None:
        doc["lines"] = [line.to_json() for line in body.lines]
    elif total is not None:
        net = Decimal(str(total)) - Decimal(str(tax or 0))
        doc["lines"] = [
            {
                "description": f"invoice {doc.get('invoice_number') or ''} as read from its PDF",
                "quantity": "1",
                "unit_price": str(net),
            }
        ]
    else:
        doc["lines"] = []
    return {name: value for name, value in doc.items() if value is not None}


@router.post(
    "/api/payables/inbound/drafts/{id}/confirm",
    response_model=DraftConfirmed,
    summary="Confirm a draft: import it as a vendor invoice",
    description=(
        "Optional body: the fields to correct (`vendor_name`, `invoice_number`, "
        "`invoice_date`, `due_date`, `po_number`, `currency`, `tax_amount`, "
        "`total_amount`) and `lines` (default: one line of total - tax). A field still "
        "missing, or an invoice the import refuses (a duplicate...), is a 422 naming it; the "
        "draft stays. The confirming member is the importer (separation of duties). "
        "Members and above."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def confirm_inbound_draft(
    ctx: Member, draft_id: DraftId, body: DraftConfirm | None = None
) -> DraftConfirmed:
    draft = one(ctx, "inbound_drafts", DRAFT_COLUMNS, draft_id, "draft")
    parsed = validate_json("vendor_invoices", [document(draft, body or DraftConfirm())])
    if parsed.errors or not parsed.documents:
        details = [
            {"in": "body", "field": e.column or "body", "message": e.message} for e in parsed.errors
        ]
        first = details[0]["message"] if details else "the draft is incomplete"
        raise ApiError(422, "validation_failed", first, details=details)
    stored = call(
        ctx, "confirm_inbound_draft", {"draft_id": draft_id, "document": parsed.documents[0]}
    )
    invoice_id = str(stored["draft"]["vendor_invoice_id"])
    matching = None
    try:
        matching = imports.match_in_chunks(ctx.db, ctx.organization_id, invoice_ids=[invoice_id])
    except imports.MatchingInterrupted:
        matching = None  # the invoice stays pending; POST /api/reconciliation/match later
    fresh = one(ctx, "inbound_drafts", DRAFT_COLUMNS, draft_id, "draft")
    return DraftConfirmed.model_validate(
        {"draft": fresh, "vendor_invoice_id": invoice_id, "matching": plain(matching)}
    )
