"""The dashboard routes as one Lambda function (serverless.yml: one function per area, each
route an ``httpApi`` event of it; CloudFormation's 500-resource limit, docs/deploy.md). Each
route module keeps its ``router``; a new route of the area is a module here, included below,
and an event of the function.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.dashboard import metrics, recent_activities, recent_invoices, revenue_chart
from shared.api import make_handler

router = APIRouter()
router.include_router(metrics.router)
router.include_router(recent_invoices.router)
router.include_router(recent_activities.router)
router.include_router(revenue_chart.router)

handler = make_handler(router)
