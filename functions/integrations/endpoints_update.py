"""PATCH /api/webhook-endpoints/{id}: URL, events, description, enabled (disable/enable)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.integrations import ENDPOINT_COLUMNS, EndpointId, error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found
from shared.models.integrations import WebhookEndpoint, WebhookEndpointUpdate
from shared.webhooks import check_endpoint_url

router = APIRouter(tags=["integrations"])


@router.patch(
    "/api/webhook-endpoints/{id}",
    response_model=WebhookEndpoint,
    summary="Change or disable a webhook endpoint",
    description=(
        "Admins only. `enabled: false` disables it: no new event is queued for it, and its "
        "queued deliveries fail with 'the endpoint is disabled' (replay them once enabled)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_endpoint(
    ctx: Admin, endpoint_id: EndpointId, body: WebhookEndpointUpdate
) -> WebhookEndpoint:
    if body.url is not None:
        check_endpoint_url(body.url, ctx.user.settings)
    rows = db.run(
        ctx.db.from_("webhook_endpoints")
        .update(body.changes())
        .eq("id", str(endpoint_id))
        .eq("organization_id", str(ctx.organization_id))
        .select(ENDPOINT_COLUMNS)
    ).data
    if not rows:
        raise not_found("webhook endpoint")
    return WebhookEndpoint.model_validate(rows[0])
