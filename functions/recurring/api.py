"""The recurring profiles routes as one Lambda function (serverless.yml: one function per
area, each route an ``httpApi`` event of it). Each route module keeps its ``router``."""

from __future__ import annotations

from fastapi import APIRouter

from functions.recurring import create, delete, get, issue, preview, status, update
from functions.recurring import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(create.router)
router.include_router(get.router)
router.include_router(update.router)
router.include_router(delete.router)
router.include_router(preview.router)
router.include_router(issue.router)
router.include_router(status.router)

handler = make_handler(router)
