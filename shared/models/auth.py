"""Models of the auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared.fields import EMAIL_PATTERN, email_address
from shared.models import DocumentedPattern, Input


class OrganizationMembership(BaseModel):
    id: UUID
    name: str
    role: str
    personal: bool


class Profile(BaseModel):
    id: UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    avatar_url: str | None


class Me(BaseModel):
    user: Profile
    organizations: list[OrganizationMembership]


# -- signup, login -------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; Auth refuses longer passwords


def _email(value: str) -> str:
    """The database's rule (shared.fields), lower-cased as Auth stores it; Auth checks
    again with its own rule, and its refusal is a 422 on ``email`` too."""
    return email_address(value).lower()


def _password_bytes(value: str) -> str:
    if len(value.encode()) > MAX_PASSWORD_BYTES:
        raise PydanticCustomError(
            "password_too_long", "must be at most {limit} bytes", {"limit": MAX_PASSWORD_BYTES}
        )
    return value


Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=255),
    AfterValidator(_email),
    DocumentedPattern(EMAIL_PATTERN),
    Field(examples=["ada@example.com"]),
]


class SignupRequest(Input):
    email: Email
    # Passwords are taken as typed: no trimming.
    password: Annotated[
        str,
        StringConstraints(strip_whitespace=False, min_length=MIN_PASSWORD_LENGTH),
        AfterValidator(_password_bytes),
        Field(description=f"At least {MIN_PASSWORD_LENGTH} characters, at most 72 bytes."),
    ]
    first_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    business_name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None,
        description="Names the personal organization signup creates (default: your name).",
    )


class LoginRequest(Input):
    # Not checked for shape: a login with any other email is just a failed login.
    email: Annotated[str, StringConstraints(min_length=1, max_length=255, to_lower=True)]
    password: Annotated[
        str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1024)
    ]


class AuthUser(BaseModel):
    id: UUID
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    email_confirmed_at: datetime | None = None
    created_at: datetime | None = None


class AuthSession(BaseModel):
    """A Supabase Auth session: send ``access_token`` as ``Authorization: Bearer``;
    trade ``refresh_token`` for a new session with Supabase Auth when it expires."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the token kind, not a secret
    expires_in: int = Field(description="Seconds the access token is valid for.")
    expires_at: int | None = Field(default=None, description="Unix time it expires at.")
    refresh_token: str


class LoginResult(BaseModel):
    session: AuthSession
    user: AuthUser


class SignupResult(BaseModel):
    session: AuthSession | None = Field(
        description="null when the project asks new users to confirm their email first"
    )
    user: AuthUser
    organization: OrganizationMembership | None = Field(
        description="The personal organization signup created (null until the email is "
        "confirmed, when confirmation is required)."
    )
    email_confirmation_required: bool
