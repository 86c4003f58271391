"""GET /api/settings/business: the business settings of the organization the caller
acts in (every member reads them), as get_settings answers them (with the numbering of
each document type and its preview)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses, opened
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.settings import BusinessSettings

router = APIRouter(tags=["settings"])


@router.get(
    "/api/settings/business",
    response_model=BusinessSettings,
    summary="The organization's business settings",
    responses=error_responses(401, 403, 404),
)
async def get_business(ctx: Viewer) -> BusinessSettings:
    result = db.rpc(ctx.db, "get_settings", {"organization_id": str(ctx.organization_id)})
    if not result.get("business"):
        raise not_found("business settings")
    return BusinessSettings.model_validate(opened(result)["business"])
