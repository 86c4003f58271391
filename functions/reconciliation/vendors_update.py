"""PUT /api/reconciliation/vendors/{id}: a vendor's details and tolerance overrides."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorId, call, error_responses, found
from shared import db
from shared.context import Member
from shared.errors import not_found
from shared.models.reconciliation import Vendor, VendorUpdate
from shared.reconciliation import vendor_tax_ids

router = APIRouter(tags=["reconciliation"])


@router.put(
    "/api/reconciliation/vendors/{id}",
    response_model=Vendor,
    summary="Update a vendor (the fields given)",
    description=(
        "Details (`name`, `tax_id`, `email`, `phone`, `address`, `default_currency`, "
        "`status` active/inactive, `notes`) and the vendor's tolerance overrides "
        "(`quantity_tolerance_percent`, `price_tolerance_percent`, `price_tolerance_amount`, "
        "`total_tolerance_amount`; `null` = the organization's). Takes effect at the next "
        "matching (`POST /api/reconciliation/match`)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_vendor(ctx: Member, vendor_id: VendorId, body: VendorUpdate) -> Vendor:
    changes = body.changes()
    if "tax_id" in changes:  # sealed and hashed, never stored in clear
        changes |= vendor_tax_ids.columns(str(ctx.organization_id), changes.pop("tax_id"))
    rows = db.run(
        ctx.db.from_("vendors")
        .update(changes)
        .eq("id", str(vendor_id))
        .eq("organization_id", str(ctx.organization_id))
        .select("id")
    ).data
    if not rows:
        raise not_found("vendor")
    result = found(call(ctx, "reconciliation_vendor", {"vendor_id": vendor_id}), "vendor")
    return Vendor.model_validate(vendor_tax_ids.fill(ctx, result))
