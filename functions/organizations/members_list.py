"""GET /api/organizations/{id}/members: who belongs to the organization, with their roles."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import InOrganization, OrganizationId, error_responses
from shared import db
from shared.context import SignedIn
from shared.models.organizations import Member, MemberList

router = APIRouter(tags=["organizations"])


@router.get(
    "/api/organizations/{id}/members",
    response_model=MemberList,
    summary="List an organization's members",
    description=(
        "Every member can read it: owners first, then admins, members, viewers. API keys' "
        "accounts are listed with `api_key: true`."
    ),
    responses=error_responses(401, 404),
)
async def list_members(
    user: SignedIn, organization_id: OrganizationId, mine: InOrganization
) -> MemberList:
    rows = db.rpc(user.db, "list_members", {"organization_id": str(organization_id)})
    return MemberList(data=[Member.model_validate(row) for row in rows or []])
