"""The Stripe account and its events as one Lambda function (serverless.yml: stripeApi)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.stripe import account, events
from shared.api import make_handler

router = APIRouter()
router.include_router(account.router)
router.include_router(events.router)

handler = make_handler(router)
