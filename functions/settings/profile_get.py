"""GET /api/settings/profile: the caller's own profile (no organization needed)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses
from shared import db
from shared.context import SignedIn
from shared.errors import not_found
from shared.models.settings import ProfileSettings

router = APIRouter(tags=["settings"])


@router.get(
    "/api/settings/profile",
    response_model=ProfileSettings,
    summary="Your profile",
    responses=error_responses(401, 404),
)
async def get_profile(user: SignedIn) -> ProfileSettings:
    rows = db.run(
        user.db.from_("profiles")
        .select("id,email,first_name,last_name,phone,avatar_url,updated_at")
        .eq("id", str(user.id))
        .limit(1)
    ).data
    if not rows:
        raise not_found("profile")
    return ProfileSettings.model_validate(rows[0])
