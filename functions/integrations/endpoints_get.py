"""GET /api/webhook-endpoints/{id}: one endpoint (never its secret)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.integrations import ENDPOINT_COLUMNS, EndpointId, error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found
from shared.models.integrations import WebhookEndpoint

router = APIRouter(tags=["integrations"])


@router.get(
    "/api/webhook-endpoints/{id}",
    response_model=WebhookEndpoint,
    summary="One webhook endpoint",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_endpoint(ctx: Admin, endpoint_id: EndpointId) -> WebhookEndpoint:
    rows = db.run(
        ctx.db.from_("webhook_endpoints")
        .select(ENDPOINT_COLUMNS)
        .eq("id", str(endpoint_id))
        .eq("organization_id", str(ctx.organization_id))
    ).data
    if not rows:
        raise not_found("webhook endpoint")
    return WebhookEndpoint.model_validate(rows[0])
