"""DELETE /api/webhook-endpoints/{id}: the endpoint, its secret and its deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.integrations import EndpointId, error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found

router = APIRouter(tags=["integrations"])


@router.delete(
    "/api/webhook-endpoints/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a webhook endpoint",
    description="Admins only. Its deliveries go with it; a message still queued finds nothing.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def delete_endpoint(ctx: Admin, endpoint_id: EndpointId) -> Response:
    rows = db.run(
        ctx.db.from_("webhook_endpoints")
        .delete()
        .eq("id", str(endpoint_id))
        .eq("organization_id", str(ctx.organization_id))
        .select("id")
    ).data
    if not rows:
        raise not_found("webhook endpoint")
    return Response(status_code=204)
