"""The teams routes as one Lambda function (serverless.yml: organizationsApi, each route an
``httpApi`` event of it): organizations, members, invitations."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import (
    create,
    delete,
    invitations_accept,
    invitations_create,
    invitations_list,
    invitations_preview,
    invitations_resend,
    invitations_revoke,
    leave,
    members_list,
    members_remove,
    members_update,
    transfer,
    update,
)
from functions.organizations import list as list_route
from shared.api import make_handler

router = APIRouter()
router.include_router(list_route.router)
router.include_router(create.router)
router.include_router(update.router)
router.include_router(delete.router)
router.include_router(members_list.router)
router.include_router(members_update.router)
router.include_router(members_remove.router)
router.include_router(leave.router)
router.include_router(transfer.router)
router.include_router(invitations_list.router)
router.include_router(invitations_create.router)
router.include_router(invitations_resend.router)
router.include_router(invitations_revoke.router)
router.include_router(invitations_accept.router)
router.include_router(invitations_preview.router)

handler = make_handler(router)
