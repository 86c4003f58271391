"""The integrations routes as one Lambda function (serverless.yml: integrationsApi, each
route an ``httpApi`` event of it): webhook endpoints, their deliveries, API keys."""

from __future__ import annotations

from fastapi import APIRouter

from functions.integrations import (
    deliveries_list,
    deliveries_replay,
    endpoints_create,
    endpoints_delete,
    endpoints_get,
    endpoints_list,
    endpoints_rotate,
    endpoints_update,
    keys_create,
    keys_list,
    keys_revoke,
)
from shared.api import make_handler

router = APIRouter()
router.include_router(endpoints_list.router)
router.include_router(endpoints_create.router)
router.include_router(endpoints_get.router)
router.include_router(endpoints_update.router)
router.include_router(endpoints_delete.router)
router.include_router(endpoints_rotate.router)
router.include_router(deliveries_list.router)
router.include_router(deliveries_replay.router)
router.include_router(keys_list.router)
router.include_router(keys_create.router)
router.include_router(keys_revoke.router)

handler = make_handler(router)
