"""POST /api/reconciliation/receipts: up to 1,000 goods receipts in one call, each line
naming its purchase order line by line number or item code."""

from __future__ import annotations

from shared.reconciliation.routes import json_import_router

router = json_import_router(
    "goods_receipts",
    "/api/reconciliation/receipts",
    "Import goods receipts (JSON, up to 1,000 per call)",
    {
        "receipt_number": "GR-5001",
        "po_number": "PO-2026-001",
        "received_date": "2026-11-28",
        "lines": [{"po_line": 1, "quantity_received": "10"}],
    },
)
