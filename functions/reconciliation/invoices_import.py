"""POST /api/reconciliation/invoices: up to 1,000 vendor invoices with their lines, stored
in one call (all or nothing, or the valid ones), then matched."""

from __future__ import annotations

from shared.reconciliation.routes import json_import_router

router = json_import_router(
    "vendor_invoices",
    "/api/reconciliation/invoices",
    "Import vendor invoices (JSON, up to 1,000 per call)",
    {
        "vendor_name": "ACME Corp.",
        "invoice_number": "INV-1001",
        "invoice_date": "2026-12-01",
        "due_date": "2026-12-31",
        "po_number": "PO-2026-001",
        "currency": "USD",
        "tax_amount": "8.25",
        "lines": [
            {"item_code": "W-1", "description": "Widget", "quantity": "10", "unit_price": "9.50"}
        ],
    },
)
