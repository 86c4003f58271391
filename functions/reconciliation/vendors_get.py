"""GET /api/reconciliation/vendors/{id}: a vendor with its aliases and merge suggestions."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorId, call, error_responses, found
from shared.context import Viewer
from shared.models.reconciliation import Vendor
from shared.reconciliation import vendor_tax_ids

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/vendors/{id}",
    response_model=Vendor,
    summary="One vendor with its aliases, merge suggestions and counts",
    description=(
        "`suggestions`: other vendors whose normalized name or alias is similar (pg_trgm "
        "similarity at or above the organization's `vendor_similarity_threshold`), best "
        "first, without the pairs a person rejected; `invoice_counts`, `open_exceptions`."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_vendor(ctx: Viewer, vendor_id: VendorId) -> Vendor:
    result = found(call(ctx, "reconciliation_vendor", {"vendor_id": vendor_id}), "vendor")
    return Vendor.model_validate(vendor_tax_ids.fill(ctx, result))
