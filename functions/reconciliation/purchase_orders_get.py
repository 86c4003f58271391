"""GET /api/reconciliation/purchase-orders/{id}: a purchase order with its lines, what was
received of each, and its receipts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from functions.reconciliation.purchase_orders_list import COLUMNS
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.reconciliation import PurchaseOrder, PurchaseOrderLine
from shared.reconciliation.routes import PurchaseOrderId, error_responses

router = APIRouter(tags=["reconciliation"])

SELECT = (
    COLUMNS + ",lines:purchase_order_lines(id,line_number,item_code,description,quantity,"
    "unit_price,amount,received:goods_receipt_lines(quantity_received)),"
    "receipts:goods_receipts(id,receipt_number,received_date,import_batch_id,created_at)"
)


def _line(row: dict[str, Any]) -> PurchaseOrderLine:
    received = sum(
        (Decimal(str(r["quantity_received"])) for r in row.pop("received", [])), Decimal(0)
    )
    return PurchaseOrderLine.model_validate({**row, "quantity_received": received})


@router.get(
    "/api/reconciliation/purchase-orders/{id}",
    response_model=PurchaseOrder,
    summary="One purchase order with its lines, received quantities and receipts",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_purchase_order(ctx: Viewer, po_id: PurchaseOrderId) -> PurchaseOrder:
    rows = db.run(
        ctx.db.from_("purchase_orders")
        .select(SELECT)
        .eq("id", str(po_id))
        .eq("organization_id", str(ctx.organization_id))
        .order("line_number", foreign_table="lines")
        .order("received_date", foreign_table="receipts")
        .limit(1)
    ).data
    if not rows:
        raise not_found("purchase order")
    row = rows[0]
    lines = [_line(line) for line in row.pop("lines", None) or []]
    return PurchaseOrder.model_validate(
        {**row, "lines": lines, "receipts": row.get("receipts") or []}
    )
