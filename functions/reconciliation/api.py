"""The reconciliation routes that read and write the database alone, as one Lambda function
(serverless.yml: one function per area, each route an ``httpApi`` event of it;
CloudFormation's 500-resource limit, docs/deploy.md). Each route module keeps its
``router``; a new route of the area is a module here, included below, and an event of the
function.

The routes with other needs keep functions of their own (serverless.yml): starting a CSV
import (the uploads bucket), the JSON imports (a 6 MB body, 29 s; functions/reconciliation/
json_imports.py) and matching (29 s).
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import (
    dashboard,
    exceptions_get,
    exceptions_list,
    exceptions_resolve,
    imports_get,
    imports_list,
    invoices_get,
    invoices_list,
    invoices_suggestions,
    invoices_suggestions_decide,
    purchase_orders_get,
    purchase_orders_list,
    purchase_orders_match_mode,
    settings_get,
    settings_update,
    vendors_alias_add,
    vendors_get,
    vendors_list,
    vendors_merge,
    vendors_reject,
    vendors_split,
    vendors_update,
)
from shared.api import make_handler

router = APIRouter()
router.include_router(imports_list.router)
router.include_router(imports_get.router)
router.include_router(purchase_orders_list.router)
router.include_router(purchase_orders_get.router)
router.include_router(purchase_orders_match_mode.router)
router.include_router(vendors_list.router)
router.include_router(vendors_get.router)
router.include_router(vendors_update.router)
router.include_router(vendors_merge.router)
router.include_router(vendors_reject.router)
router.include_router(vendors_alias_add.router)
router.include_router(vendors_split.router)
router.include_router(invoices_list.router)
router.include_router(invoices_get.router)
router.include_router(invoices_suggestions.router)
router.include_router(invoices_suggestions_decide.router)
router.include_router(exceptions_list.router)
router.include_router(exceptions_get.router)
router.include_router(exceptions_resolve.router)
router.include_router(settings_get.router)
router.include_router(settings_update.router)
router.include_router(dashboard.router)

handler = make_handler(router)
