"""POST /api/webhook-endpoints: an endpoint and its signing secret, shown this once."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.integrations import error_responses
from shared import db
from shared.context import Admin
from shared.models.integrations import WebhookEndpointCreate, WebhookEndpointWithSecret
from shared.webhooks import check_endpoint_url

router = APIRouter(tags=["integrations"])


@router.post(
    "/api/webhook-endpoints",
    status_code=201,
    response_model=WebhookEndpointWithSecret,
    summary="Register a webhook endpoint",
    description=(
        "Admins only. The URL must be `https://` (plain `http://` only where the deployment "
        "allows it: the local stack) and not a private address; `event_types` are the events "
        "it receives. The answer carries `secret` (`whsec_...`), the Standard Webhooks "
        "signing secret: it is shown this once and never again (rotate it if lost)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def create_endpoint(
    ctx: Admin, body: WebhookEndpointCreate, response: Response
) -> WebhookEndpointWithSecret:
    check_endpoint_url(body.url, ctx.user.settings)
    created = db.rpc(
        ctx.db,
        "create_webhook_endpoint",
        {
            "organization_id": str(ctx.organization_id),
            "url": body.url,
            "event_types": sorted(set(body.event_types)),
            "description": body.description,
            "enabled": body.enabled,
        },
    )
    endpoint = WebhookEndpointWithSecret.model_validate(created)
    response.headers["Location"] = f"/api/webhook-endpoints/{endpoint.id}"
    response.headers["Cache-Control"] = "no-store"
    return endpoint
