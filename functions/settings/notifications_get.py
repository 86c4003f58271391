"""GET /api/settings/notifications: the caller's notification preferences (no
organization needed)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses
from shared import db
from shared.context import SignedIn
from shared.errors import not_found
from shared.models.settings import NotificationSettings

router = APIRouter(tags=["settings"])


@router.get(
    "/api/settings/notifications",
    response_model=NotificationSettings,
    summary="Your notification preferences",
    responses=error_responses(401, 404),
)
async def get_notifications(user: SignedIn) -> NotificationSettings:
    rows = db.run(
        user.db.from_("user_settings")
        .select("email_notifications,push_notifications,updated_at")
        .eq("user_id", str(user.id))
        .limit(1)
    ).data
    if not rows:
        raise not_found("notification settings")
    return NotificationSettings.model_validate(rows[0])
