"""The clients routes as one Lambda function (serverless.yml: one function per area, each route
an ``httpApi`` event of it; CloudFormation's 500-resource limit, docs/deploy.md). Each route
module keeps its ``router``; a new route of the area is a module here, included below, and
an event of the function.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.clients import bulk_delete, create, delete, get, update
from functions.clients import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(create.router)
router.include_router(get.router)
router.include_router(update.router)
router.include_router(delete.router)
router.include_router(bulk_delete.router)

handler = make_handler(router)
