"""The teams routes (docs/api.md, "Organizations, members and invitations"; docs/teams.md):
the caller's organizations, their members and roles, invitations by e-mail. One Lambda
function for the area (``api.py``), a module per route.

The organization is the path's ``{id}`` (not ``X-Organization-Id``): an organization the
caller is not a member of (or a closed one) is ``404``, a role too weak ``403``. Who may do
what is decided in SQL (migration 20261206140100_teams.sql); the checks here only give the
clear answer early.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path

from shared.context import ROLES, Membership, SignedIn, mfa_required
from shared.errors import ApiError, ErrorResponses, forbidden, not_found

# How long an invitation's link stays valid, in days (the SQL function takes 1..30).
INVITATION_DAYS = 7

OrganizationId = Annotated[UUID, Path(alias="id", description="The organization's id")]
UserId = Annotated[UUID, Path(description="The member's user id")]
InvitationId = Annotated[UUID, Path(description="The invitation's id")]

error_responses = ErrorResponses(
    {
        403: "Role too weak for this (admins manage viewers and members, owners everyone)",
        404: "No such organization among the caller's, or no such member or invitation in it",
        409: (
            "conflict: the address is already a member or already invited; an invitation "
            "already accepted or revoked"
        ),
        410: "The invitation has expired or was revoked",
        422: (
            "Invalid input (validation_failed, details name the field), or a rule "
            "(rule_violation): the last owner can neither leave nor be demoted nor removed"
        ),
        429: "Too many failed attempts with invitation tokens; retry after Retry-After",
        503: "The e-mail service is briefly unavailable: nothing was sent",
    }
)


def membership(user: SignedIn, organization_id: UUID, min_role: str = "viewer") -> Membership:
    """The caller's membership of the organization, or 404 (not theirs, or closed) / 403."""
    for found in user.memberships:
        if found.organization_id == organization_id:
            if ROLES.index(found.role) < ROLES.index(min_role):
                raise forbidden(f"your role ({found.role}) may not do this; it needs {min_role}")
            if found.require_mfa and user.caller.claims.get("aal") != "aal2":
                raise mfa_required(user)  # as every route's context (shared/context.py)
            return found
    raise not_found("organization")


def _requiring(role: str) -> Any:
    async def dependency(user: SignedIn, organization_id: OrganizationId) -> Membership:
        return membership(user, organization_id, role)

    dependency.__name__ = f"organization_{role}"
    return dependency


InOrganization = Annotated[Membership, Depends(_requiring("viewer"))]
AdminOfOrganization = Annotated[Membership, Depends(_requiring("admin"))]
OwnerOfOrganization = Annotated[Membership, Depends(_requiring("owner"))]


def new_token() -> tuple[str, str]:
    """An invitation token (256 random bits) and the SHA-256 the database keeps."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_address(request: Any) -> str:
    """The caller's address as API Gateway saw it (requestContext.http.sourceIp)."""
    event = request.scope.get("aws.event") or {}
    source = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")
    return str(source or (request.client.host if request.client else "") or "unknown")


# accept_invitation's refusals, each its own answer.
ACCEPT_REFUSALS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "invitation_not_found", "no invitation has this token"),
    "expired": (410, "invitation_expired", "the invitation has expired; ask for a new one"),
    "revoked": (410, "invitation_revoked", "the invitation was revoked"),
    "already_accepted": (409, "invitation_already_accepted", "you already accepted it"),
    "wrong_user": (
        403,
        "invitation_for_another_user",
        "the invitation was sent to another e-mail address; sign in as that address",
    ),
    "email_unconfirmed": (
        403,
        "email_not_confirmed",
        "confirm your e-mail address first, then accept the invitation",
    ),
    "already_member": (
        409,
        "already_member",
        "you are already a member of this organization",
    ),
}


def accept_refusal(answer: dict[str, Any]) -> ApiError:
    status = str(answer.get("status"))
    if status == "limited":
        retry = str(int(answer.get("retry_after") or 60))
        return ApiError(
            429,
            "rate_limited",
            f"too many failed invitation attempts; retry in {retry} s",
            details={"retry_after": int(retry)},
            headers={"Retry-After": retry},
        )
    code, name, message = ACCEPT_REFUSALS.get(status, ACCEPT_REFUSALS["not_found"])
    return ApiError(code, name, message)
