"""The auth routes (/api/auth) as one Lambda function (serverless.yml: one function per area,
each route an ``httpApi`` event of it; CloudFormation's 500-resource limit, docs/deploy.md).
Each route module keeps its ``router``; a new route of the area is a module here, included
below, and an event of the function.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.auth import account, account_delete, login, logout, me, mfa, signup
from shared.api import make_handler

router = APIRouter()
router.include_router(signup.router)
router.include_router(login.router)
router.include_router(logout.router)
router.include_router(me.router)
router.include_router(mfa.router)
router.include_router(account.router)
router.include_router(account_delete.router)

handler = make_handler(router)
