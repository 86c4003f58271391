"""POST /api/organizations/{id}/leave: the caller leaves the organization."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.organizations import InOrganization, OrganizationId, error_responses
from shared import db
from shared.context import SignedIn

router = APIRouter(tags=["organizations"])


@router.post(
    "/api/organizations/{id}/leave",
    status_code=204,
    response_class=Response,
    summary="Leave an organization",
    description=(
        "Any member. The last owner cannot leave (`422 rule_violation`): transfer the "
        "ownership first, or delete the organization."
    ),
    responses=error_responses(400, 401, 404, 422),
)
async def leave_organization(
    user: SignedIn, organization_id: OrganizationId, mine: InOrganization
) -> Response:
    db.rpc(user.db, "leave_organization", {"organization_id": str(organization_id)})
    return Response(status_code=204)
