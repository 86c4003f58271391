"""The uploads routes as one Lambda function (serverless.yml: uploadsApi): the presigned
POST of a logo or an avatar, and an upload's status."""

from __future__ import annotations

from fastapi import APIRouter

from functions.uploads import create, get
from shared.api import make_handler

router = APIRouter()
router.include_router(create.router)
router.include_router(get.router)

handler = make_handler(router)
