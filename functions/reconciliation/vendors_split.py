"""POST /api/reconciliation/vendors/{id}/split: split an alias back out of a vendor."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorId, call, error_responses, found
from shared.context import Member
from shared.models.reconciliation import VendorSplit, VendorSplitOff

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/vendors/{id}/split",
    response_model=VendorSplitOff,
    summary="Split an alias off into its own vendor",
    description=(
        'Body `{"alias_id": <uuid>, "create_vendor": true}`. The alias is removed; with '
        "`create_vendor` (default) it becomes a vendor of its own (the merged vendor it "
        "came from comes back, if any: `new_vendor_id`) and this vendor's invoices written "
        "under that name move to it; with `false` they become unknown-vendor invoices. "
        "The moved invoices are re-matched."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def split_alias(
    ctx: Member, vendor_id: VendorId, body: VendorSplit | None = None
) -> VendorSplitOff:
    body = body or VendorSplit()
    result = call(
        ctx,
        "split_vendor_alias",
        {"vendor_id": vendor_id, "alias_id": body.alias_id, "create_vendor": body.create_vendor},
    )
    return VendorSplitOff.model_validate(found(result, "vendor"))
