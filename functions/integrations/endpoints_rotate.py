"""POST /api/webhook-endpoints/{id}/rotate-secret: a new secret, shown this once."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.integrations import EndpointId, error_responses
from shared import db
from shared.context import Admin
from shared.models.integrations import WebhookEndpointWithSecret

router = APIRouter(tags=["integrations"])


@router.post(
    "/api/webhook-endpoints/{id}/rotate-secret",
    response_model=WebhookEndpointWithSecret,
    summary="Rotate a webhook endpoint's signing secret",
    description=(
        "Admins only. The answer's `secret` is the new one (shown once). For 24 hours "
        "(`previous_secret_valid_until`) deliveries carry a signature by each secret, so a "
        "receiver can switch without losing one."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def rotate_secret(
    ctx: Admin, endpoint_id: EndpointId, response: Response
) -> WebhookEndpointWithSecret:
    rotated = db.rpc(
        ctx.db,
        "rotate_webhook_secret",
        {"organization_id": str(ctx.organization_id), "endpoint_id": str(endpoint_id)},
    )
    response.headers["Cache-Control"] = "no-store"
    return WebhookEndpointWithSecret.model_validate(rotated)
