"""POST /api/invitations/accept: the signed-in caller joins with the invitation's role."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import accept_refusal, error_responses, token_hash
from shared import db
from shared.context import SignedIn
from shared.models.organizations import InvitationAccept, InvitationAccepted

router = APIRouter(tags=["organizations"])


@router.post(
    "/api/invitations/accept",
    response_model=InvitationAccepted,
    summary="Accept an invitation",
    description=(
        "Any signed-in user whose confirmed e-mail is the invited address (case-insensitive): "
        "the membership is made with the invitation's role and the link is spent. Refusals, "
        "each with its own code: `404 invitation_not_found` (no such token, or one another "
        "user accepted), `410 invitation_expired`, `410 invitation_revoked`, `409 "
        "invitation_already_accepted` (by you), `409 already_member`, `403 "
        "invitation_for_another_user`, `403 email_not_confirmed`; after 10 failed attempts "
        "in a minute, `429 rate_limited`. A new person signs up first (`POST /api/auth/signup` "
        "with the invited address), then accepts (docs/teams.md)."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 410, 422, 429),
)
async def accept_invitation(user: SignedIn, body: InvitationAccept) -> InvitationAccepted:
    answer = db.rpc(user.db, "accept_invitation", {"token_hash": token_hash(body.token)})
    if answer.get("status") != "accepted":
        raise accept_refusal(answer)
    return InvitationAccepted.model_validate(answer)
