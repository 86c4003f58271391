"""MFA (TOTP) through Supabase Auth's MFA endpoints and its official client:
GET /api/auth/mfa/factors, POST /api/auth/mfa/enroll, POST /api/auth/mfa/challenge,
POST /api/auth/mfa/verify (answers the aal2 session), DELETE /api/auth/mfa/factors/{id}.

Each route acts as the caller (their access token, checked here first): a client is
given the caller's session (``user_client``) and calls Auth's ``/factors`` endpoints as
supabase-js does. An organization that requires MFA (business.require_mfa) refuses a
session below aal2 with ``403 mfa_required``; these routes name no organization, so
such a caller can always reach them to enroll and verify.
"""

from __future__ import annotations

import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path

from functions.auth import error_responses
from shared import db
from shared.auth import Caller, bearer_token, verify
from shared.auth_client import AuthError, auth_error, user_client
from shared.errors import ApiError
from shared.models.auth import (
    AuthSession,
    MfaChallenge,
    MfaChallengeRequest,
    MfaEnrollment,
    MfaEnrollRequest,
    MfaFactor,
    MfaFactors,
    MfaUnenrolled,
    MfaVerified,
    MfaVerifyRequest,
)
from shared.settings import get_settings

router = APIRouter(tags=["auth"])

ISSUER = "InvoiceFlow"


async def person(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    """The caller's verified token, of a session that has not ended (401 before the body
    is looked at).

    A signed-out session's access token is still signed and unexpired: the database
    says whether its session lives, as for every other route (``api_context``, without
    counting a request: 28000, ``401 session_ended``), before Auth is asked anything.
    """
    settings = get_settings()
    caller = verify(bearer_token(authorization), settings)
    if caller.claims.get("role") != "authenticated":
        raise ApiError(401, "invalid_token", "sign in as a person to manage MFA")
    db.rpc(db.rest(settings, caller.token), "api_context", {"rate_limit": 0})
    return caller


Person = Annotated[Caller, Depends(person)]


@router.get(
    "/api/auth/mfa/factors",
    response_model=MfaFactors,
    summary="Your MFA factors and your session's level",
    responses=error_responses(401, 503),
)
async def list_factors(
    caller: Person,
) -> MfaFactors:
    client = user_client(get_settings(), caller.token)
    try:
        answer = client.get_user(caller.token)
    except AuthError as exc:
        raise auth_error(exc) from None
    factors = (answer.user.factors or []) if answer else []
    verified = any(f.status == "verified" for f in factors)
    return MfaFactors(
        factors=[
            MfaFactor(
                id=UUID(f.id),
                factor_type=f.factor_type,
                friendly_name=f.friendly_name,
                status=f.status,
                created_at=f.created_at,
                updated_at=f.updated_at,
            )
            for f in factors
        ],
        current_level=caller.claims.get("aal"),
        next_level="aal2" if verified else "aal1",
    )


@router.post(
    "/api/auth/mfa/enroll",
    response_model=MfaEnrollment,
    status_code=201,
    summary="Enroll a TOTP factor (secret, otpauth URI and QR code)",
    description=(
        "The factor stays `unverified` until a code is verified (POST /api/auth/mfa/verify). "
        "A friendly name already used is `422` on `friendly_name`."
    ),
    responses=error_responses(401, 422, 429, 503),
)
async def enroll(
    body: MfaEnrollRequest,
    caller: Person,
) -> MfaEnrollment:
    client = user_client(get_settings(), caller.token)
    params: dict[str, str] = {"factor_type": "totp", "issuer": ISSUER}
    if body.friendly_name:
        params["friendly_name"] = body.friendly_name
    try:
        answer = client.mfa.enroll(params)  # type: ignore[arg-type]
    except AuthError as exc:
        raise auth_error(exc) from None
    if answer.totp is None:
        raise ApiError(503, "service_unavailable", "Auth answered no TOTP secret; retry shortly")
    return MfaEnrollment.model_validate(
        {
            "id": answer.id,
            "factor_type": answer.type,
            "friendly_name": answer.friendly_name,
            "totp": {
                "secret": answer.totp.secret,
                "uri": answer.totp.uri,
                "qr_code": answer.totp.qr_code,
            },
        }
    )


@router.post(
    "/api/auth/mfa/challenge",
    response_model=MfaChallenge,
    status_code=201,
    summary="Start a challenge of a factor",
    responses=error_responses(401, 404, 422, 429, 503),
)
async def challenge(
    body: MfaChallengeRequest,
    caller: Person,
) -> MfaChallenge:
    client = user_client(get_settings(), caller.token)
    try:
        answer = client.mfa.challenge({"factor_id": str(body.factor_id)})
    except AuthError as exc:
        raise auth_error(exc) from None
    return MfaChallenge(id=UUID(answer.id), factor_id=body.factor_id, expires_at=answer.expires_at)


@router.post(
    "/api/auth/mfa/verify",
    response_model=MfaVerified,
    summary="Verify a TOTP code: the answer is an aal2 session",
    description=(
        "The first verified code also verifies a newly enrolled factor. A wrong code is "
        "`422 mfa_verification_failed`, an expired challenge `422 mfa_challenge_expired`, "
        "an unknown factor `404`. Use the answer's access token from now on (the old one "
        "stays aal1)."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
async def verify_code(
    body: MfaVerifyRequest,
    caller: Person,
) -> MfaVerified:
    client = user_client(get_settings(), caller.token)
    factor_id = str(body.factor_id)
    try:
        challenge_id = (
            str(body.challenge_id)
            if body.challenge_id
            else client.mfa.challenge({"factor_id": factor_id}).id
        )
        answer = client.mfa.verify(
            {"factor_id": factor_id, "challenge_id": challenge_id, "code": body.code}
        )
    except AuthError as exc:
        raise auth_error(exc) from None
    session = AuthSession(
        access_token=answer.access_token,
        token_type=answer.token_type.lower(),
        expires_in=answer.expires_in,
        expires_at=int(time.time()) + answer.expires_in,
        refresh_token=answer.refresh_token,
    )
    return MfaVerified(session=session, aal="aal2")


@router.delete(
    "/api/auth/mfa/factors/{id}",
    response_model=MfaUnenrolled,
    summary="Remove a factor (a verified one needs an aal2 session)",
    description="Below aal2, removing a verified factor is `403 mfa_required`.",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def unenroll(
    factor_id: Annotated[str, Path(alias="id", description="The factor's id")],
    caller: Person,
) -> MfaUnenrolled:
    try:
        wanted = UUID(factor_id)
    except ValueError:
        raise ApiError(404, "not_found", "factor not found") from None
    client = user_client(get_settings(), caller.token)
    try:
        answer = client.mfa.unenroll({"factor_id": str(wanted)})
    except AuthError as exc:
        raise auth_error(exc) from None
    return MfaUnenrolled(id=UUID(answer.id))
