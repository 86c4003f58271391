"""POST /api/organizations/{id}/invitations/{invitation_id}/resend: a new link."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import (
    INVITATION_DAYS,
    AdminOfOrganization,
    InvitationId,
    OrganizationId,
    error_responses,
    new_token,
)
from shared import db
from shared.context import SignedIn
from shared.errors import not_found
from shared.models.organizations import InvitationSent

router = APIRouter(tags=["organizations"])


@router.post(
    "/api/organizations/{id}/invitations/{invitation_id}/resend",
    response_model=InvitationSent,
    summary="Resend an invitation",
    description=(
        "Admins and owners (owners for an owner's invitation). A pending or expired "
        f"invitation gets a new token and {INVITATION_DAYS} more days, and is e-mailed again; "
        "the old link opens nothing any more. An accepted or revoked one is `409 conflict`."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
async def resend_invitation(
    user: SignedIn,
    organization_id: OrganizationId,
    invitation_id: InvitationId,
    mine: AdminOfOrganization,
) -> InvitationSent:
    from functions.organizations.mail import send_invitation  # noqa: PLC0415 (SES, Jinja2)

    found = db.run(
        user.db.from_("invitations")
        .select("id")
        .eq("id", str(invitation_id))
        .eq("organization_id", str(organization_id))
    ).data
    if not found:
        raise not_found("invitation")
    token, digest = new_token()
    renewed = db.rpc(
        user.db,
        "resend_invitation",
        {"invitation_id": str(invitation_id), "token_hash": digest, "valid_days": INVITATION_DAYS},
    )
    message_id = send_invitation(user.settings, renewed, token)
    return InvitationSent.model_validate({**renewed, "email_message_id": message_id})
