"""POST /api/reconciliation/purchase-orders: up to 1,000 purchase orders with their lines
in one call; vendors not known yet are created."""

from __future__ import annotations

from shared.reconciliation.routes import json_import_router

router = json_import_router(
    "purchase_orders",
    "/api/reconciliation/purchase-orders",
    "Import purchase orders (JSON, up to 1,000 per call)",
    {
        "po_number": "PO-2026-001",
        "vendor_name": "ACME Corp.",
        "order_date": "2026-11-20",
        "currency": "USD",
        "lines": [
            {
                "line_number": 1,
                "item_code": "W-1",
                "description": "Widget",
                "quantity": "10",
                "unit_price": "9.50",
            }
        ],
    },
)
