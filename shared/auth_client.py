"""Supabase Auth (GoTrue) through its official client, and its errors in the API's shape.

Only the auth area's function imports this module (it pulls in ``supabase_auth``;
every other route verifies tokens itself, see `shared.auth`).

A new ``SyncGoTrueClient`` is made per request, on one ``httpx.Client`` per Lambda
instance: the client keeps the session it receives in memory, and a client shared by
requests would keep one person's session where the next request could reach it.
Sessions are never persisted or refreshed here; the frontend holds them.

Errors (`auth_error`): Auth's machine codes decide, not its messages --

====================================  ======  =======================
Auth says                             status  code
====================================  ======  =======================
user_already_exists, email_exists     409     conflict
weak_password                         422     validation_failed (password)
email_address_invalid, validation..   422     validation_failed
invalid_credentials, user_banned      401     invalid_credentials
email_not_confirmed                   403     email_not_confirmed
signup_disabled, *_provider_disabled  403     forbidden
over_*_rate_limit                     429     rate_limited
session_not_found, bad_jwt, ...       401     invalid_token
insufficient_aal                      403     mfa_required
mfa_verification_failed               422     mfa_verification_failed (code)
mfa_challenge_expired                 422     mfa_challenge_expired (challenge_id)
mfa_factor_not_found                  404     not_found
mfa_factor_name_conflict              422     validation_failed (friendly_name)
same_password                         422     validation_failed (new_password)
otp_expired, otp_disabled             422     invalid_code (code)
unreachable, timeout, 5xx             503     service_unavailable
====================================  ======  =======================
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import (
    AuthError,
    AuthRetryableError,
    AuthUnknownError,
    AuthWeakPasswordError,
)
from supabase_auth.types import Session, User

from shared.errors import ApiError, unauthorized, unavailable
from shared.log import get_logger
from shared.models.auth import AuthSession, AuthUser
from shared.settings import Settings

# One httpx.Client per Lambda instance (kept alive between invocations).
_clients: dict[str, httpx.Client] = {}
_clients_lock = threading.Lock()

_CONFLICT = {"user_already_exists", "email_exists", "identity_already_exists", "phone_exists"}
_RATE_LIMITED = {
    "over_request_rate_limit",
    "over_email_send_rate_limit",
    "over_sms_send_rate_limit",
}
_DISABLED = {
    "signup_disabled",
    "email_provider_disabled",
    "provider_disabled",
    "anonymous_provider_disabled",
}
# The token was fine when we checked it, but Auth no longer knows its session or user.
_SESSION_GONE = {
    "session_not_found",
    "session_expired",
    "user_not_found",
    "bad_jwt",
    "no_authorization",
    "refresh_token_not_found",
    "refresh_token_already_used",
}
# Banned users get the answer of a wrong password: Auth checks the ban before the
# password, so telling them apart would tell anyone that the address has an account.
_INVALID_CREDENTIALS = {"invalid_credentials", "user_banned"}


def _http_client(settings: Settings) -> httpx.Client:
    with _clients_lock:
        client = _clients.get("auth")
        if client is None:
            client = httpx.Client(
                timeout=httpx.Timeout(settings.http_timeout_seconds, connect=3.0),
                limits=httpx.Limits(max_keepalive_connections=4, max_connections=8),
            )
            _clients["auth"] = client
        return client


def close() -> None:
    """Closes the instance's connections to Auth (tests and the local emulator)."""
    with _clients_lock:
        client = _clients.pop("auth", None)
    if client is not None:
        client.close()


def auth_client(settings: Settings) -> SyncGoTrueClient:
    """A client of the project's Auth, speaking with the anon key (as supabase-js does)."""
    return SyncGoTrueClient(
        url=settings.auth_url,
        headers={
            "apikey": settings.supabase_anon_key,
            "Authorization": f"Bearer {settings.supabase_anon_key}",
        },
        http_client=_http_client(settings),
        auto_refresh_token=False,
        persist_session=False,
    )


def user_client(settings: Settings, token: str) -> SyncGoTrueClient:
    """A client holding the caller's session (their verified access token), for the
    endpoints Auth answers for the user themself (MFA, PUT /user). ``set_session``
    reads the user back from Auth (GET /user), so a token whose session or user Auth no
    longer knows is refused here (401)."""
    client = auth_client(settings)
    try:
        client.set_session(token, "")
    except AuthError as exc:
        raise auth_error(exc) from None
    return client


def auth_user(user: User) -> AuthUser:
    """The API's view of an Auth user (the names come from the signup's metadata)."""
    metadata = user.user_metadata or {}
    return AuthUser.model_validate(
        {
            "id": user.id,
            "email": user.email,
            "first_name": metadata.get("first_name"),
            "last_name": metadata.get("last_name"),
            "email_confirmed_at": user.email_confirmed_at,
            "created_at": user.created_at,
        }
    )


def auth_session(session: Session) -> AuthSession:
    return AuthSession.model_validate(session.model_dump())


def _field_error(field: str, message: str, **extra: Any) -> ApiError:
    detail: dict[str, Any] = {"in": "body", "field": field, "message": message, **extra}
    return ApiError(422, "validation_failed", f"{field}: {message}", details=[detail])


def _conflict(_: str) -> ApiError:
    return ApiError(409, "conflict", "an account with this email address already exists")


def _invalid_credentials(_: str) -> ApiError:
    return unauthorized("invalid_credentials", "the email or the password is wrong")


def _not_confirmed(_: str) -> ApiError:
    return ApiError(
        403, "email_not_confirmed", "confirm your email address (see your inbox) to sign in"
    )


def _disabled(_: str) -> ApiError:
    return ApiError(403, "forbidden", "signing up is not open at the moment")


def _rate_limited(_: str) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "too many attempts; wait a minute and retry",
        details={"retry_after": 60},
        headers={"Retry-After": "60"},
    )


def _session_gone(_: str) -> ApiError:
    return unauthorized("invalid_token", "the session has ended; sign in again")


def _bad_email(message: str) -> ApiError:
    return _field_error("email", message or "is not accepted")


def _insufficient_aal(_: str) -> ApiError:
    return ApiError(
        403,
        "mfa_required",
        "this needs an aal2 session: verify a TOTP code (POST /api/auth/mfa/verify) "
        "and retry with the token it answers",
    )


def _code_refused(message: str) -> ApiError:
    return ApiError(
        422,
        "mfa_verification_failed",
        "code: not the current code of the authenticator app",
        details=[{"in": "body", "field": "code", "message": message or "invalid code"}],
    )


def _challenge_expired(_: str) -> ApiError:
    return ApiError(
        422,
        "mfa_challenge_expired",
        "challenge_id: the challenge has expired; ask for a new one",
        details=[{"in": "body", "field": "challenge_id", "message": "expired"}],
    )


def _factor_not_found(_: str) -> ApiError:
    return ApiError(404, "not_found", "factor not found")


def _factor_name_taken(message: str) -> ApiError:
    return _field_error("friendly_name", message or "is already used by another factor")


def _same_password(message: str) -> ApiError:
    return _field_error("new_password", message or "must differ from the current password")


def _otp_refused(_: str) -> ApiError:
    return ApiError(
        422,
        "invalid_code",
        "code: the code is wrong or has expired; ask for a new e-mail",
        details=[{"in": "body", "field": "code", "message": "wrong or expired"}],
    )


_BY_CODE: dict[str, Callable[[str], ApiError]] = {
    **dict.fromkeys(_CONFLICT, _conflict),
    **dict.fromkeys(_INVALID_CREDENTIALS, _invalid_credentials),
    "email_not_confirmed": _not_confirmed,
    **dict.fromkeys(_DISABLED, _disabled),
    **dict.fromkeys(_RATE_LIMITED, _rate_limited),
    **dict.fromkeys(_SESSION_GONE, _session_gone),
    "email_address_invalid": _bad_email,
    "email_address_not_authorized": _bad_email,
    "insufficient_aal": _insufficient_aal,
    "mfa_verification_failed": _code_refused,
    "mfa_challenge_expired": _challenge_expired,
    "mfa_factor_not_found": _factor_not_found,
    "mfa_factor_name_conflict": _factor_name_taken,
    "same_password": _same_password,
    "otp_expired": _otp_refused,
    "otp_disabled": _otp_refused,
}


def auth_error(exc: AuthError) -> ApiError:
    """The API's error for an error of the Auth client."""
    code = str(exc.code or "")
    status = int(getattr(exc, "status", 0) or 0)
    message = str(exc.message or "")
    if isinstance(exc, AuthWeakPasswordError):
        return _field_error("password", message or "is too weak", reasons=list(exc.reasons))
    if isinstance(exc, AuthRetryableError | AuthUnknownError):
        return _unavailable(exc)
    mapped = _BY_CODE.get(code)
    if mapped is not None:
        return mapped(message)
    if code == "validation_failed" or (400 <= status < 500 and status != 408):
        lowered = message.lower()
        field = "email" if "email" in lowered else "password" if "password" in lowered else "body"
        return _field_error(field, message or "was refused by Auth")
    # 5xx, timeouts, anything else: Auth is not answering as it should.
    return _unavailable(exc)


def _unavailable(exc: AuthError) -> ApiError:
    if not isinstance(exc, AuthRetryableError):
        get_logger().warning(
            "auth error",
            extra={
                "fields": {
                    "auth_error": type(exc).__name__,
                    "auth_code": exc.code,
                    "auth_status": getattr(exc, "status", None),
                }
            },
        )
    return unavailable("the sign-in service is briefly unavailable; retry shortly")


__all__ = [
    "AuthError",
    "auth_client",
    "auth_error",
    "auth_session",
    "auth_user",
    "close",
    "user_client",
]
