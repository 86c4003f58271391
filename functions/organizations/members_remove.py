"""DELETE /api/organizations/{id}/members/{user_id}: remove a member."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.organizations import (
    AdminOfOrganization,
    OrganizationId,
    UserId,
    error_responses,
)
from shared import db
from shared.context import SignedIn

router = APIRouter(tags=["organizations"])


@router.delete(
    "/api/organizations/{id}/members/{user_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a member",
    description=(
        "Admins remove viewers and members; owners remove anyone. The last owner cannot be "
        "removed (`422 rule_violation`). To leave yourself, `POST .../leave`."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def remove_member(
    user: SignedIn, organization_id: OrganizationId, user_id: UserId, mine: AdminOfOrganization
) -> Response:
    db.rpc(
        user.db,
        "remove_member",
        {"organization_id": str(organization_id), "user_id": str(user_id)},
    )
    return Response(status_code=204)
