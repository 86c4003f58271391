"""POST /api/reconciliation/vendors/{id}/merge: confirm a suggestion (merge a vendor in)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorId, call, error_responses, found
from shared.context import Member
from shared.models.reconciliation import VendorMerge, VendorMerged

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/vendors/{id}/merge",
    response_model=VendorMerged,
    summary="Merge another vendor into this one (confirm a suggestion)",
    description=(
        'Body `{"vendor_id": <the vendor merged in>, "reason": "..."}`. The merged vendor\'s '
        "name and aliases become this vendor's aliases, its purchase orders and invoices "
        "move here and are re-matched; it is kept with status `merged` and `merged_into`. "
        "Both vendors holding the same invoice number → 409."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def merge_vendor(
    ctx: Member, vendor_id: VendorId, body: VendorMerge | None = None
) -> VendorMerged:
    body = body or VendorMerge()
    result = call(
        ctx,
        "merge_vendors",
        {"vendor_id": vendor_id, "merged_id": body.vendor_id, "reason": body.reason},
    )
    return VendorMerged.model_validate(found(result, "vendor"))
