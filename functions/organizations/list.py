"""GET /api/organizations: the caller's organizations, each with the caller's role."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import error_responses
from shared.context import SignedIn
from shared.models.organizations import Organization, OrganizationList

router = APIRouter(tags=["organizations"])


@router.get(
    "/api/organizations",
    response_model=OrganizationList,
    summary="List my organizations",
    description=(
        "Every organization the caller belongs to, with the caller's role: the personal one "
        "first, then by creation. Closed organizations are not listed."
    ),
    responses=error_responses(401),
)
async def list_organizations(user: SignedIn) -> OrganizationList:
    return OrganizationList(
        data=[
            Organization.model_validate(
                {"id": m.organization_id, "name": m.name, "personal": m.personal, "role": m.role}
            )
            for m in user.memberships
        ]
    )
