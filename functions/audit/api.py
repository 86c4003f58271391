"""The audit routes as one Lambda function (serverless.yml: auditApi, each route an
``httpApi`` event of it): the organization's audit list and the histories of an invoice
and a client."""

from __future__ import annotations

from fastapi import APIRouter

from functions.audit import history
from functions.audit import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(history.router)

handler = make_handler(router)
