"""POST /api/reconciliation/vendors/{id}/aliases: confirm another name of a vendor."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import VendorId, call, error_responses, found
from shared.context import Member
from shared.models.reconciliation import VendorAliasAdded, VendorAliasCreate

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/vendors/{id}/aliases",
    response_model=VendorAliasAdded,
    status_code=201,
    summary="Add a confirmed alias (confirm an unknown vendor's name)",
    description=(
        'Body `{"alias": "Acme Corp"}`. The alias is remembered (imports resolve it); '
        "invoices of an unknown vendor written under that name move to this vendor and are "
        "re-matched, so their `unknown_vendor` exceptions resolve (`rematched_invoices`). "
        "A name that is already another vendor's alias or name → 409."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def add_alias(
    ctx: Member, vendor_id: VendorId, body: VendorAliasCreate | None = None
) -> VendorAliasAdded:
    body = body or VendorAliasCreate()
    result = call(ctx, "add_vendor_alias", {"vendor_id": vendor_id, "alias": body.alias})
    return VendorAliasAdded.model_validate(found(result, "vendor"))
