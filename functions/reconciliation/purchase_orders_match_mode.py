"""GET and PUT /api/reconciliation/purchase-orders/{id}/match-mode: a purchase order's
2-way / 3-way setting and its lines' (supabase/migrations/20261206150200_two_way_matching.sql).

A line is matched in the most specific mode set: its own, else the PO's, else the
vendor's (PUT /api/reconciliation/vendors/{id} with ``match_mode``), else three_way.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import call, error_responses, found
from shared.context import Member, Viewer
from shared.models.reconciliation import PurchaseOrderMatchModes, PurchaseOrderMatchModeUpdate
from shared.reconciliation.routes import PurchaseOrderId

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/purchase-orders/{id}/match-mode",
    response_model=PurchaseOrderMatchModes,
    summary="A purchase order's match modes: its own, its vendor's, each line's effective one",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_match_modes(ctx: Viewer, po_id: PurchaseOrderId) -> PurchaseOrderMatchModes:
    result = call(ctx, "purchase_order_match_modes", {"purchase_order_id": po_id})
    return PurchaseOrderMatchModes.model_validate(found(result, "purchase order"))


@router.put(
    "/api/reconciliation/purchase-orders/{id}/match-mode",
    response_model=PurchaseOrderMatchModes,
    summary="Set a purchase order's or its lines' match mode (2-way or 3-way)",
    description=(
        "`match_mode` of the PO and/or `lines` (`line_number`, `match_mode`): `three_way`, "
        "`two_way` (the invoice line is compared with the PO line only: the billed quantity "
        "with the ordered one, within the quantity tolerance; receipts are not required), or "
        "`null` to inherit (line > PO > vendor > three_way). The PO's pending and exception "
        "invoices are re-matched at once (unless `auto_rematch` is off). Members and above."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def set_match_mode(
    ctx: Member, po_id: PurchaseOrderId, body: PurchaseOrderMatchModeUpdate
) -> PurchaseOrderMatchModes:
    result = call(
        ctx,
        "set_purchase_order_match_mode",
        {"purchase_order_id": po_id, "changes": body.changes()},
    )
    return PurchaseOrderMatchModes.model_validate(found(result, "purchase order"))
