"""GET /api/webhook-endpoints: the organization's endpoints (never their secrets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from functions.integrations import ENDPOINT_COLUMNS, error_responses
from shared.context import Admin
from shared.listing import PageParams, fetch_page, page_params
from shared.models.common import Page, Pagination
from shared.models.integrations import WebhookEndpoint

router = APIRouter(tags=["integrations"])


@router.get(
    "/api/webhook-endpoints",
    response_model=Page[WebhookEndpoint],
    summary="List the organization's webhook endpoints",
    description="Admins only; oldest first, paged. Secrets are never listed.",
    responses=error_responses(400, 401, 403, 422),
)
async def list_endpoints(
    ctx: Admin, page: Annotated[PageParams, Depends(page_params)]
) -> Page[WebhookEndpoint]:
    query = (
        ctx.db.from_("webhook_endpoints")
        .select(ENDPOINT_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
        .order("created_at")
        .order("id")
    )
    rows, pagination = fetch_page(query, page)
    return Page[WebhookEndpoint](
        data=[WebhookEndpoint.model_validate(row) for row in rows],
        pagination=Pagination(**pagination),
    )
