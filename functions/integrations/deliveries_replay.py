"""POST /api/webhook-endpoints/{id}/deliveries/{delivery_id}/replay: deliver it again."""

from __future__ import annotations

from fastapi import APIRouter

from functions.integrations import DeliveryId, EndpointId, error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found
from shared.models.integrations import WebhookDelivery

router = APIRouter(tags=["integrations"])


@router.post(
    "/api/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=WebhookDelivery,
    summary="Replay one delivery",
    description=(
        "Admins only. A delivery that succeeded or failed starts a new round of tries with "
        "the same event id and payload (receivers that keep the ids they have seen treat it "
        "as a duplicate); the dispatcher queues it within its next run. One in progress: 409."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def replay_delivery(
    ctx: Admin, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> WebhookDelivery:
    org = str(ctx.organization_id)
    found = db.run(
        ctx.db.from_("webhook_deliveries")
        .select("id")
        .eq("id", str(delivery_id))
        .eq("endpoint_id", str(endpoint_id))
        .eq("organization_id", org)
    ).data
    if not found:
        raise not_found("webhook delivery")
    db.rpc(
        ctx.db, "replay_webhook_delivery", {"organization_id": org, "delivery_id": str(delivery_id)}
    )
    rows = db.run(
        ctx.db.from_("webhook_delivery_list")
        .select("*")
        .eq("id", str(delivery_id))
        .eq("organization_id", org)
    ).data
    return WebhookDelivery.model_validate(rows[0])
