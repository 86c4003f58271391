"""GET /api/api-keys: the organization's keys (never the keys themselves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.integrations import KEY_COLUMNS, error_responses
from shared.context import Admin
from shared.listing import PageParams, fetch_page, page_params
from shared.models.common import Page, Pagination
from shared.models.integrations import ApiKey

router = APIRouter(tags=["integrations"])


@router.get(
    "/api/api-keys",
    response_model=Page[ApiKey],
    summary="List the organization's API keys",
    description="Admins only; newest first. `revoked=false` leaves the revoked keys out.",
    responses=error_responses(400, 401, 403, 422),
)
async def list_keys(
    ctx: Admin,
    page: Annotated[PageParams, Depends(page_params)],
    revoked: Annotated[
        bool | None, Query(description="true: only revoked; false: only live")
    ] = None,
) -> Page[ApiKey]:
    query = (
        ctx.db.from_("api_keys")
        .select(KEY_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if revoked is True:
        query = query.not_.is_("revoked_at", "null")
    elif revoked is False:
        query = query.is_("revoked_at", "null")
    query = query.order("created_at", desc=True).order("id")
    rows, pagination = fetch_page(query, page)
    return Page[ApiKey](
        data=[ApiKey.model_validate(row) for row in rows], pagination=Pagination(**pagination)
    )
