"""DELETE /api/organizations/{id}/invitations/{invitation_id}: revoke an invitation."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import (
    AdminOfOrganization,
    InvitationId,
    OrganizationId,
    error_responses,
)
from shared import db
from shared.context import SignedIn
from shared.errors import not_found
from shared.models.organizations import Invitation

router = APIRouter(tags=["organizations"])


@router.delete(
    "/api/organizations/{id}/invitations/{invitation_id}",
    response_model=Invitation,
    summary="Revoke an invitation",
    description=(
        "Admins and owners (owners for an owner's invitation). Its link opens nothing any "
        "more; revoking twice answers the revoked invitation. An accepted one is `409`."
    ),
    responses=error_responses(400, 401, 403, 404, 409),
)
async def revoke_invitation(
    user: SignedIn,
    organization_id: OrganizationId,
    invitation_id: InvitationId,
    mine: AdminOfOrganization,
) -> Invitation:
    found = db.run(
        user.db.from_("invitations")
        .select("id")
        .eq("id", str(invitation_id))
        .eq("organization_id", str(organization_id))
    ).data
    if not found:
        raise not_found("invitation")
    revoked = db.rpc(user.db, "revoke_invitation", {"invitation_id": str(invitation_id)})
    return Invitation.model_validate(revoked)
