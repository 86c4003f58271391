"""GET /api/reconciliation/purchase-orders/{id}: a purchase order with its lines, what was
received of each, and its receipts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from functions.reconciliation.purchase_orders_list import COLUMNS, PurchaseOrderSummary
from shared import db
from shared.api import make_handler
from shared.context import Viewer
from shared.errors import not_found
from shared.reconciliation.routes import PurchaseOrderId, error_responses

router = APIRouter(tags=["reconciliation"])

SELECT = (
    COLUMNS + ",lines:purchase_order_lines(id,line_number,item_code,description,quantity,"
    "unit_price,amount,received:goods_receipt_lines(quantity_received)),"
    "receipts:goods_receipts(id,receipt_number,received_date,import_batch_id,created_at)"
)


class PurchaseOrderLine(BaseModel):
    id: UUID
    line_number: int
    item_code: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    quantity_received: Decimal = Field(description="the sum over the PO's goods receipts")


class Receipt(BaseModel):
    id: UUID
    receipt_number: str
    received_date: date
    import_batch_id: UUID | None
    created_at: datetime


class PurchaseOrder(PurchaseOrderSummary):
    lines: list[PurchaseOrderLine]
    receipts: list[Receipt]


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


handler = make_handler(router)
