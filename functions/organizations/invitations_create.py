"""POST /api/organizations/{id}/invitations: invite an e-mail address with a role."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.organizations import (
    INVITATION_DAYS,
    AdminOfOrganization,
    OrganizationId,
    error_responses,
    new_token,
)
from shared import db
from shared.context import SignedIn
from shared.errors import ApiError
from shared.models.organizations import InvitationCreate, InvitationSent

router = APIRouter(tags=["organizations"])


@router.post(
    "/api/organizations/{id}/invitations",
    status_code=201,
    response_model=InvitationSent,
    summary="Invite someone",
    description=(
        "Admins and owners; only owners invite an owner. The address gets an e-mail with a "
        f"single-use link, valid {INVITATION_DAYS} days; only the token's SHA-256 is stored. "
        "An address already a member, or with a pending invitation, is `409 conflict` "
        "(resend or revoke that one). When the e-mail cannot be sent the invitation is "
        "revoked and the answer says why (503 or 422)."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
async def create_invitation(
    user: SignedIn,
    organization_id: OrganizationId,
    mine: AdminOfOrganization,
    body: InvitationCreate,
    response: Response,
) -> InvitationSent:
    from functions.organizations.mail import send_invitation  # noqa: PLC0415 (SES, Jinja2)

    token, digest = new_token()
    created = db.rpc(
        user.db,
        "create_invitation",
        {
            "organization_id": str(organization_id),
            "email": body.email,
            "role": body.role,
            "token_hash": digest,
            "valid_days": INVITATION_DAYS,
        },
    )
    try:
        message_id = send_invitation(user.settings, created, token)
    except ApiError:
        db.rpc(user.db, "revoke_invitation", {"invitation_id": created["id"]})
        raise
    response.headers["Location"] = (
        f"/api/organizations/{organization_id}/invitations/{created['id']}"
    )
    return InvitationSent.model_validate({**created, "email_message_id": message_id})
