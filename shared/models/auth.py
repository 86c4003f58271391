"""Models of the auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
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
    require_mfa: bool = Field(
        default=False, description="The organization requires an aal2 session (MFA)."
    )


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


# -- MFA ------------------------------------------------------------------------------------

FactorId = Annotated[UUID, Field(description="A factor's id (GET /api/auth/mfa/factors).")]
TotpCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="The 6-digit code the authenticator app shows now.", examples=["123456"]),
]


class MfaFactor(BaseModel):
    id: UUID
    factor_type: str = Field(description="totp")
    friendly_name: str | None = None
    status: str = Field(description="unverified (enrolled, no code verified yet) or verified")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class MfaFactors(BaseModel):
    factors: list[MfaFactor]
    current_level: str | None = Field(description="The token's level: aal1 or aal2.")
    next_level: str = Field(
        description="aal2 when a verified factor exists (verify a code to reach it), else aal1."
    )


class MfaEnrollRequest(Input):
    factor_type: Literal["totp"] = "totp"
    friendly_name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="A name to tell factors apart (unique per user)."
    )


class MfaTotp(BaseModel):
    secret: str = Field(description="The shared secret (base32), for typing into an app.")
    uri: str = Field(description="The otpauth:// URI the QR code encodes.")
    qr_code: str = Field(description="The QR code as an SVG data URL (an <img> src).")


class MfaEnrollment(BaseModel):
    id: UUID
    factor_type: str
    friendly_name: str | None = None
    status: str = "unverified"
    totp: MfaTotp


class MfaChallengeRequest(Input):
    factor_id: FactorId


class MfaChallenge(BaseModel):
    id: UUID = Field(description="The challenge's id, for POST /api/auth/mfa/verify.")
    factor_id: UUID
    expires_at: int = Field(description="Unix time the challenge expires at.")


class MfaVerifyRequest(Input):
    factor_id: FactorId
    challenge_id: UUID | None = Field(
        default=None, description="A challenge's id; omitted: a challenge is made for the code."
    )
    code: TotpCode


class MfaVerified(BaseModel):
    session: AuthSession = Field(description="The aal2 session: use its access_token from now.")
    aal: str


class MfaUnenrolled(BaseModel):
    id: UUID


# -- sessions and account ----------------------------------------------------------------

Password = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=MIN_PASSWORD_LENGTH),
    AfterValidator(_password_bytes),
    Field(description=f"At least {MIN_PASSWORD_LENGTH} characters, at most 72 bytes."),
]


class RefreshRequest(Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PasswordChangeRequest(Input):
    current_password: Annotated[
        str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1024)
    ] = Field(description="Re-authentication: the password in use now.")
    new_password: Password


class RecoverRequest(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=255, to_lower=True)]


class RecoverCompleteRequest(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=255, to_lower=True)]
    code: Annotated[
        str,
        StringConstraints(pattern=r"^[0-9]{6}$"),
        Field(description="The 6-digit code of the recovery e-mail."),
    ]
    new_password: Password
    mfa_code: TotpCode | None = Field(
        default=None, description="The TOTP code, when the account has a verified factor."
    )


class EmailChangeRequest(Input):
    email: Email


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str
