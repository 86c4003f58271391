"""The reconciliation's JSON imports (invoices, e-invoices, purchase orders, goods receipts)
as one Lambda function: they share what sets them apart from the other reconciliation
routes, a body of up to 6 MB (Lambda's synchronous payload limit) and 29 s (serverless.yml),
so they are grouped apart from functions/reconciliation/api.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import (
    einvoices_import,
    invoices_import,
    purchase_orders_import,
    receipts_import,
)
from shared.api import make_handler

router = APIRouter()
router.include_router(invoices_import.router)
router.include_router(purchase_orders_import.router)
router.include_router(receipts_import.router)
router.include_router(einvoices_import.router)

handler = make_handler(router)
