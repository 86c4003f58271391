"""Credit notes, refunds and client credit as one Lambda function (serverless.yml: one
function per area, each route an ``httpApi`` event of it; CloudFormation's 500-resource
limit, docs/deploy.md). A new route of the area is a module here, included below, and an
event of the function.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.credits import (
    apply_credit,
    client_credit,
    create,
    get,
    refunds_create,
    refunds_get,
    refunds_list,
)
from functions.credits import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(create.router)
router.include_router(get.router)
router.include_router(refunds_list.router)
router.include_router(refunds_create.router)
router.include_router(refunds_get.router)
router.include_router(client_credit.router)
router.include_router(apply_credit.router)

handler = make_handler(router)
