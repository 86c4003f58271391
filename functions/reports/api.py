"""The report routes as one Lambda function (serverless.yml: one function per area, each route
an ``httpApi`` event of it; CloudFormation's 500-resource limit, docs/deploy.md). Each route
module keeps its ``router``; a new route of the area is a module here, included below, and
an event of the function.

The export keeps a function of its own (the exports bucket, a full vCPU, fonts).
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.reports import client_performance, overview, payment_status, revenue
from shared.api import make_handler

router = APIRouter()
router.include_router(overview.router)
router.include_router(revenue.router)
router.include_router(payment_status.router)
router.include_router(client_performance.router)

handler = make_handler(router)
