"""PUT /api/settings/profile: changes the caller's name, phone or avatar (a partial
update; the email is the account's and is read-only here)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses
from shared import db
from shared.context import SignedIn
from shared.models.settings import ProfileSettings, ProfileUpdate, section_json

router = APIRouter(tags=["settings"])


@router.put(
    "/api/settings/profile",
    response_model=ProfileSettings,
    summary="Change your profile",
    responses=error_responses(401, 422),
)
async def update_profile(body: ProfileUpdate, user: SignedIn) -> ProfileSettings:
    result = db.rpc(user.db, "update_settings", {"profile": section_json(body)})
    return ProfileSettings.model_validate(result["profile"])
