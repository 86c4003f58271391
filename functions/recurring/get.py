"""GET /api/recurring-profiles/{id}: one profile with its items, client and latest invoices."""

from __future__ import annotations

from fastapi import APIRouter

from functions.recurring import ProfileId, error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.recurring import RecurringProfile

router = APIRouter(tags=["recurring"])


@router.get(
    "/api/recurring-profiles/{id}",
    response_model=RecurringProfile,
    summary="One recurring profile",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_recurring_profile(ctx: Viewer, profile_id: ProfileId) -> RecurringProfile:
    document = db.rpc(
        ctx.db,
        "get_recurring_profile",
        {"organization_id": str(ctx.organization_id), "profile_id": str(profile_id)},
    )
    if document is None:
        raise not_found("recurring profile")
    return RecurringProfile.model_validate(document)
