"""Models of the teams routes: organizations, members, invitations and the audit trail
(docs/api.md, "Organizations, members and invitations" and "Audit trail"; docs/teams.md).

Requests are checked here (unknown fields refused, each refusal naming its field); who
may do what is the database's to refuse (migration 20261206140100_teams.sql).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from shared.fields import EMAIL_PATTERN, sendable_email_address
from shared.models import DocumentedPattern, Input, Output

Role = Literal["viewer", "member", "admin", "owner"]
InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


class Organization(Output):
    id: UUID
    name: str
    personal: bool
    role: Role = Field(description="The caller's role in the organization")


class OrganizationCreate(Input):
    name: str = Field(min_length=1, max_length=200)


class OrganizationUpdate(Input):
    name: str = Field(min_length=1, max_length=200)


class OrganizationDeleted(Output):
    id: UUID
    closed: bool = Field(
        description=(
            "true: the organization holds financial records and was closed (kept, read-only, "
            "hidden); false: it was deleted"
        )
    )


class Member(Output):
    user_id: UUID
    organization_id: UUID
    role: Role
    email: str | None = None
    full_name: str | None = None
    api_key: bool = Field(description="An API key's account (shared/api_keys.py), not a person")
    created_at: dt.datetime
    updated_at: dt.datetime


class MemberList(Output):
    data: list[Member]


class MemberUpdate(Input):
    role: Role


class OwnershipTransfer(Input):
    user_id: UUID = Field(description="The member who becomes an owner; the caller becomes admin")


class Invitation(Output):
    id: UUID
    organization_id: UUID
    email: str
    role: Role
    status: InvitationStatus
    invited_by: UUID | None = None
    created_at: dt.datetime
    expires_at: dt.datetime
    last_sent_at: dt.datetime
    send_count: int
    accepted_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class InvitationSent(Invitation):
    email_message_id: str | None = Field(
        default=None, description="The e-mail service's id of the invitation e-mail"
    )


# An address SES takes bare, lower-cased (the invitation matches it case-insensitively).
InviteeEmail = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320),
    AfterValidator(sendable_email_address),
    DocumentedPattern(EMAIL_PATTERN),
]


class InvitationCreate(Input):
    email: InviteeEmail
    role: Role = "member"


class InvitationAccept(Input):
    token: str = Field(min_length=20, max_length=200, description="The token of the link")


class InvitationAccepted(Output):
    organization: dict[str, Any] = Field(description="The organization joined: id and name")
    membership: Member


class InvitationPreview(Output):
    organization_name: str
    role: Role
    invited_by: str | None = None
    email_hint: str = Field(description="The invited address, masked (j***@example.com)")
    expires_at: dt.datetime


class AuditEntry(Output):
    id: int
    organization_id: UUID | None = None
    table_name: str
    record_id: UUID | None = None
    action: Literal["insert", "update", "delete"]
    old_record: dict[str, Any] | None = None
    new_record: dict[str, Any] | None = None
    changed_by: UUID | None = None
    changed_by_role: str | None = None
    transaction_id: int
    changed_at: dt.datetime


class OrganizationList(Output):
    data: list[Organization]
