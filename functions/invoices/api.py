"""The invoices routes as one Lambda function (serverless.yml: one function per area, each
route an ``httpApi`` event of it; CloudFormation's 500-resource limit, docs/deploy.md). Each
route module keeps its ``router``; a new route of the area is a module here, included below,
and an event of the function.

The routes that need more than the database keep functions of their own (serverless.yml):
sending (SES, fonts), bulk actions (SES, the bulk queue, the exports bucket) and the PDF
(fonts, more memory).
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.invoices import bulk_job, create, delete, get, update
from functions.invoices import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(create.router)
router.include_router(get.router)
router.include_router(update.router)
router.include_router(delete.router)
router.include_router(bulk_job.router)

handler = make_handler(router)
