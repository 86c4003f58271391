"""POST /api/reconciliation/vendors/{id}/reject-suggestion: two vendors are different."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorId, call, error_responses, found
from shared.context import Member
from shared.models.reconciliation import Vendor, VendorSuggestionReject

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/vendors/{id}/reject-suggestion",
    response_model=Vendor,
    summary="Reject a merge suggestion",
    description=(
        'Body `{"vendor_id": <the suggested vendor>, "reason": "..."}`: the two are '
        "different vendors; the pair is never suggested again, either way round."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def reject_suggestion(
    ctx: Member, vendor_id: VendorId, body: VendorSuggestionReject | None = None
) -> Vendor:
    body = body or VendorSuggestionReject()
    result = call(
        ctx,
        "reject_vendor_suggestion",
        {"vendor_id": vendor_id, "other_vendor_id": body.vendor_id, "reason": body.reason},
    )
    return Vendor.model_validate(found(result, "vendor"))
