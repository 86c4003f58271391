"""Sessions and the account, through Supabase Auth's official client:

* POST /api/auth/refresh: a refresh token for a new session. Auth rotates refresh
  tokens: each is used once; a token used again after Auth's reuse interval is refused
  and ends its session (every token of it), as a stolen token's replay should.
* POST /api/auth/password: change the password, re-authenticated with the current one
  (a sign-in with it); Auth ends the user's other sessions. With a verified MFA factor
  Auth asks for an aal2 session (403 mfa_required).
* POST /api/auth/recover: Auth's recovery mail (a link and a 6-digit code); always 202,
  whether or not the address has an account. POST /api/auth/recover/complete: the code,
  the address and the new password (and the TOTP code when the account has MFA) for a
  new session.
* POST /api/auth/email: change the address; Auth mails a confirmation link to both
  addresses (secure email change) and changes it when both are followed.

Sign-out everywhere is POST /api/auth/logout?scope=global (logout.py).
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Response

from functions.auth import error_responses
from functions.auth.mfa import Person
from shared.auth_client import (
    AuthError,
    auth_client,
    auth_error,
    auth_session,
    auth_user,
    user_client,
)
from shared.errors import ApiError, unauthorized, unavailable
from shared.log import get_logger
from shared.models.auth import (
    Accepted,
    EmailChangeRequest,
    LoginResult,
    PasswordChangeRequest,
    RecoverCompleteRequest,
    RecoverRequest,
    RefreshRequest,
)
from shared.settings import get_settings

router = APIRouter(tags=["auth"])


def _session_answer(answer: Any) -> LoginResult:
    session, user = answer.session, answer.user
    if session is None or user is None:
        raise unavailable("the sign-in service gave an unexpected answer; retry shortly")
    return LoginResult(session=auth_session(session), user=auth_user(user))


@router.post(
    "/api/auth/refresh",
    response_model=LoginResult,
    summary="A new session for a refresh token (rotation)",
    description=(
        "Public (the refresh token is the credential). Each refresh token works once: the "
        "answer carries the next one. A token used again, unknown, or of an ended session "
        "is `401 invalid_token` (sign in again); reusing an old token ends its session."
    ),
    responses=error_responses(401, 422, 429, 503),
)
async def refresh(body: RefreshRequest) -> LoginResult:
    try:
        answer = auth_client(get_settings()).refresh_session(body.refresh_token)
    except AuthError as exc:
        error = auth_error(exc)
        if error.status in {401, 422}:
            raise unauthorized(
                "invalid_token", "the refresh token was refused (used, or its session ended)"
            ) from None
        raise error from None
    return _session_answer(answer)


@router.post(
    "/api/auth/password",
    status_code=204,
    response_class=Response,
    summary="Change your password (with the current one)",
    description=(
        "A wrong `current_password` is `422` naming it; a weak or unchanged `new_password` "
        "`422` naming it. Your other sessions end; this one stays. With a verified MFA "
        "factor the token must be aal2 (`403 mfa_required`)."
    ),
    responses=error_responses(401, 403, 422, 429, 503),
)
async def change_password(body: PasswordChangeRequest, caller: Person) -> Response:
    settings = get_settings()
    if not caller.email:
        raise ApiError(401, "invalid_token", "sign in as a person to change a password")
    try:
        check = auth_client(settings).sign_in_with_password(
            {"email": caller.email, "password": body.current_password}
        )
    except AuthError as exc:
        error = auth_error(exc)
        if error.code == "invalid_credentials":
            raise ApiError(
                422,
                "validation_failed",
                "current_password: is not your password",
                details=[
                    {"in": "body", "field": "current_password", "message": "is not your password"}
                ],
            ) from None
        raise error from None
    client = user_client(settings, caller.token)
    try:
        client.update_user({"password": body.new_password})
    except AuthError as exc:
        error = auth_error(exc)
        if error.code == "validation_failed" and error.message.startswith("password"):
            error = ApiError(
                422,
                "validation_failed",
                "new_password" + error.message[len("password") :],
                details=[{"in": "body", "field": "new_password", "message": error.message}],
            )
        raise error from None
    finally:
        # The re-authentication's own session is not kept (Auth ends the others too).
        if check.session is not None:
            with contextlib.suppress(AuthError):
                auth_client(settings).admin.sign_out(check.session.access_token, "local")
    return Response(status_code=204)


@router.post(
    "/api/auth/recover",
    response_model=Accepted,
    status_code=202,
    summary="Send a password reset e-mail",
    description=(
        "Public. Always `202`, whether the address has an account or not (nothing tells "
        "them apart). The e-mail carries a link and a 6-digit code for "
        "POST /api/auth/recover/complete."
    ),
    responses=error_responses(422),
)
async def recover(body: RecoverRequest) -> Accepted:
    settings = get_settings()
    try:
        auth_client(settings).reset_password_for_email(body.email)
    except AuthError as exc:
        # Refusals (the address's rate limit, a malformed address) answer like a sent
        # mail: anything else would tell an address with an account from one without.
        get_logger(settings.log_level).info(
            "recover: not sent", extra={"fields": {"auth_code": exc.code}}
        )
    return Accepted(
        message="if an account has this address, a reset e-mail is on its way (valid 1 hour)"
    )


@router.post(
    "/api/auth/recover/complete",
    response_model=LoginResult,
    summary="Set a new password with the reset e-mail's code",
    description=(
        "Public. A wrong or expired code is `422 invalid_code`. When the account has a "
        "verified TOTP factor, `mfa_code` is required (`403 mfa_required` without it). "
        "The answer is a new session; the other sessions end."
    ),
    responses=error_responses(403, 422, 429, 503),
)
async def recover_complete(body: RecoverCompleteRequest) -> LoginResult:
    settings = get_settings()
    client = auth_client(settings)
    try:
        answer = client.verify_otp({"type": "recovery", "email": body.email, "token": body.code})
    except AuthError as exc:
        error = auth_error(exc)
        if error.status in {401, 403, 422} and error.code != "rate_limited":
            error = ApiError(
                422,
                "invalid_code",
                "code: the code is wrong or has expired; ask for a new e-mail",
                details=[{"in": "body", "field": "code", "message": "wrong or expired"}],
            )
        raise error from None
    if answer.session is None:
        raise unavailable("the sign-in service gave an unexpected answer; retry shortly")
    try:
        if body.mfa_code is not None:
            factors = client.mfa.list_factors().totp
            if factors:
                client.mfa.challenge_and_verify({"factor_id": factors[0].id, "code": body.mfa_code})
        client.update_user({"password": body.new_password})
        final = client.get_session()
    except AuthError as exc:
        error = auth_error(exc)
        if error.code == "validation_failed" and error.message.startswith("password"):
            error = ApiError(
                422,
                "validation_failed",
                "new_password" + error.message[len("password") :],
                details=[{"in": "body", "field": "new_password", "message": error.message}],
            )
        raise error from None
    if final is None or final.user is None:
        raise unavailable("the sign-in service gave an unexpected answer; retry shortly")
    return LoginResult(session=auth_session(final), user=auth_user(final.user))


@router.post(
    "/api/auth/email",
    response_model=Accepted,
    status_code=202,
    summary="Change your e-mail address (confirmed by mail)",
    description=(
        "Auth mails a confirmation link to the current and to the new address; the change "
        "happens when both are followed. An address of another account is `409`. With a "
        "verified MFA factor the token must be aal2 (`403 mfa_required`)."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
async def change_email(body: EmailChangeRequest, caller: Person) -> Accepted:
    settings = get_settings()
    if caller.email and caller.email.lower() == body.email:
        raise ApiError(
            422,
            "validation_failed",
            "email: is already your address",
            details=[{"in": "body", "field": "email", "message": "is already your address"}],
        )
    try:
        user_client(settings, caller.token).update_user({"email": body.email})
    except AuthError as exc:
        raise auth_error(exc) from None
    return Accepted(
        message="confirm the change from the links sent to your current and your new address"
    )
