"""GET /api/settings: the caller's profile and notification preferences, and the
business settings of the organization they act in, in one call."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses, opened
from shared import db
from shared.context import Viewer
from shared.models.settings import AllSettings

router = APIRouter(tags=["settings"])


@router.get(
    "/api/settings",
    response_model=AllSettings,
    summary="All settings: profile, business, notifications",
    responses=error_responses(401, 403),
)
async def get_settings(ctx: Viewer) -> AllSettings:
    result = db.rpc(ctx.db, "get_settings", {"organization_id": str(ctx.organization_id)})
    return AllSettings.model_validate(opened(result))
