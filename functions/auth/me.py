"""GET /api/auth/me: the signed-in user's profile and their organizations with roles."""

from __future__ import annotations

from fastapi import APIRouter

from functions.auth import error_responses
from shared import db
from shared.context import SignedIn
from shared.errors import not_found
from shared.models.auth import Me, OrganizationMembership, Profile

router = APIRouter(tags=["auth"])


@router.get(
    "/api/auth/me",
    response_model=Me,
    summary="The signed-in user, their profile and organizations",
    responses=error_responses(401),
)
async def me(user: SignedIn) -> Me:
    rows = db.run(
        user.db.from_("profiles")
        .select("id,email,first_name,last_name,phone,avatar_url")
        .eq("id", str(user.id))
        .limit(1)
    ).data
    if not rows:
        raise not_found("profile")
    return Me(
        user=Profile.model_validate(rows[0]),
        organizations=[
            OrganizationMembership(
                id=m.organization_id,
                name=m.name,
                role=m.role,
                personal=m.personal,
                require_mfa=m.require_mfa,
            )
            for m in user.memberships
        ],
    )
