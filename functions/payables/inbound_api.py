"""The inbound mail routes as one Lambda function (serverless.yml: payablesInboundApi):
its own function because releasing a quarantined message writes to the inbound bucket
(least privilege: the other payables routes have no S3 access)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import (
    inbound_drafts_confirm,
    inbound_drafts_discard,
    inbound_drafts_list,
    inbound_messages_discard,
    inbound_messages_get,
    inbound_messages_list,
    inbound_messages_release,
    inbound_settings_get,
    inbound_settings_update,
)
from shared.api import make_handler

router = APIRouter()
router.include_router(inbound_settings_get.router)
router.include_router(inbound_settings_update.router)
router.include_router(inbound_messages_list.router)
router.include_router(inbound_messages_get.router)
router.include_router(inbound_messages_release.router)
router.include_router(inbound_messages_discard.router)
router.include_router(inbound_drafts_list.router)
router.include_router(inbound_drafts_confirm.router)
router.include_router(inbound_drafts_discard.router)

handler = make_handler(router)
