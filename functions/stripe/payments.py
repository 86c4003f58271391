"""The Pay button and Stripe's webhook as one Lambda function (serverless.yml:
stripePayments): both without login, both opening sealed secrets (kms:Decrypt)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.stripe import checkout, webhook
from shared.api import make_handler

router = APIRouter()
router.include_router(checkout.router)
router.include_router(webhook.router)

handler = make_handler(router)
