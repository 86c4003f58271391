"""The quotes routes as one Lambda function (serverless.yml: one function per area, each
route an ``httpApi`` event of it; CloudFormation's 500-resource limit, docs/deploy.md). Each
route module keeps its ``router``.

The routes that need more than the database keep functions of their own (serverless.yml),
as the invoices' do: sending (SES, fonts) and the PDF (fonts, more memory).
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.quotes import convert, create, decide, delete, get, update
from functions.quotes import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(create.router)
router.include_router(get.router)
router.include_router(update.router)
router.include_router(delete.router)
router.include_router(decide.router)
router.include_router(convert.router)

handler = make_handler(router)
