"""GET /api/reconciliation/invoices/{id}: a vendor invoice with its match evidence."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorInvoiceId, call, error_responses, found
from shared.context import Viewer
from shared.models.reconciliation import VendorInvoice

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/invoices/{id}",
    response_model=VendorInvoice,
    summary="One vendor invoice with its lines, match result, line evidence and exceptions",
    description=(
        "`match`: the invoice's last matching (outcome, purchase order, totals and their "
        "variances, the tolerances used); each line's `match`: the PO line and how it was "
        "found, ordered / received / billed earlier / billed / allowed quantities, PO and "
        "billed unit prices, the price variance and allowance, expected and billed amounts, "
        "and `rule`, the check that decided it; `exceptions`: open ones first."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_vendor_invoice(ctx: Viewer, invoice_id: VendorInvoiceId) -> VendorInvoice:
    result = call(ctx, "reconciliation_invoice", {"invoice_id": invoice_id})
    return VendorInvoice.model_validate(found(result, "vendor invoice"))
