"""GET /api/webhook-endpoints/{id}/deliveries: an endpoint's deliveries with their attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.integrations import EndpointId, error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found
from shared.listing import PageParams, fetch_page, one_of, page_params
from shared.models.common import Page, Pagination
from shared.models.integrations import DELIVERY_STATUSES, EVENT_TYPES, WebhookDelivery

router = APIRouter(tags=["integrations"])

COLUMNS = (
    "id,endpoint_id,event_id,event_type,event_created_at,payload,status,attempts,"
    "last_status_code,last_error,next_attempt_at,succeeded_at,failed_at,created_at,"
    "updated_at,attempt_log"
)


@router.get(
    "/api/webhook-endpoints/{id}/deliveries",
    response_model=Page[WebhookDelivery],
    summary="An endpoint's deliveries, with each attempt",
    description=(
        "Admins only; newest first, paged; `status` and `event_type` filter "
        "(comma-separated). Each delivery carries its event (id, type, payload) and "
        "`attempt_log`: every attempt's status code, duration and error."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def list_deliveries(
    *,
    ctx: Admin,
    endpoint_id: EndpointId,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(description=", ".join(DELIVERY_STATUSES))] = None,
    event_type: Annotated[str | None, Query(description="Event types (comma-separated)")] = None,
) -> Page[WebhookDelivery]:
    statuses = one_of("status", status, DELIVERY_STATUSES)
    types = one_of("event_type", event_type, EVENT_TYPES)
    exists = db.run(
        ctx.db.from_("webhook_endpoints")
        .select("id")
        .eq("id", str(endpoint_id))
        .eq("organization_id", str(ctx.organization_id))
    ).data
    if not exists:
        raise not_found("webhook endpoint")
    query = (
        ctx.db.from_("webhook_delivery_list")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
        .eq("endpoint_id", str(endpoint_id))
    )
    if statuses:
        query = query.in_("status", statuses)
    if types:
        query = query.in_("event_type", types)
    query = query.order("created_at", desc=True).order("id", desc=True)
    rows, pagination = fetch_page(query, page)
    return Page[WebhookDelivery](
        data=[WebhookDelivery.model_validate(row) for row in rows],
        pagination=Pagination(**pagination),
    )
