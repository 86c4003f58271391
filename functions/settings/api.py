"""The settings routes (/api/settings) as one Lambda function (serverless.yml: one function per
area, each route an ``httpApi`` event of it; CloudFormation's 500-resource limit,
docs/deploy.md). Each route module keeps its ``router``; a new route of the area is a module
here, included below, and an event of the function.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import (
    business_get,
    business_update,
    get,
    notifications_get,
    notifications_update,
    profile_get,
    profile_update,
    update,
)
from shared.api import make_handler

router = APIRouter()
router.include_router(get.router)
router.include_router(update.router)
router.include_router(profile_get.router)
router.include_router(profile_update.router)
router.include_router(business_get.router)
router.include_router(business_update.router)
router.include_router(notifications_get.router)
router.include_router(notifications_update.router)

handler = make_handler(router)
