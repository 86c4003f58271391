"""PUT /api/settings/notifications: changes the caller's notification flags; the
flags given change, the others stay."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses
from shared import db
from shared.context import SignedIn
from shared.models.settings import NotificationSettings, NotificationsUpdate, section_json

router = APIRouter(tags=["settings"])


@router.put(
    "/api/settings/notifications",
    response_model=NotificationSettings,
    summary="Change your notification preferences",
    responses=error_responses(401, 422),
)
async def update_notifications(body: NotificationsUpdate, user: SignedIn) -> NotificationSettings:
    result = db.rpc(user.db, "update_settings", {"notifications": section_json(body)})
    return NotificationSettings.model_validate(result["notifications"])
