"""PATCH /api/organizations/{id}/members/{user_id}: change a member's role."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import (
    AdminOfOrganization,
    OrganizationId,
    UserId,
    error_responses,
)
from shared import db
from shared.context import SignedIn
from shared.models.organizations import Member, MemberUpdate

router = APIRouter(tags=["organizations"])


@router.patch(
    "/api/organizations/{id}/members/{user_id}",
    response_model=Member,
    summary="Change a member's role",
    description=(
        "Admins change viewers' and members' roles (up to admin); only owners change admins' "
        "and owners' roles or make owners. Nobody raises their own role; the last owner "
        "cannot be demoted (`422 rule_violation`)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_member(
    user: SignedIn,
    organization_id: OrganizationId,
    user_id: UserId,
    mine: AdminOfOrganization,
    body: MemberUpdate,
) -> Member:
    answer = db.rpc(
        user.db,
        "change_member_role",
        {"organization_id": str(organization_id), "user_id": str(user_id), "role": body.role},
    )
    return Member.model_validate(answer)
