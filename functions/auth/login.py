"""POST /api/auth/login: email and password for a Supabase Auth session.

A wrong password and an unknown email get the same answer (401
``invalid_credentials``), so the route does not tell who has an account.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.auth import error_responses
from shared.auth_client import AuthError, auth_client, auth_error, auth_session, auth_user
from shared.errors import unavailable
from shared.models.auth import LoginRequest, LoginResult
from shared.settings import get_settings

router = APIRouter(tags=["auth"])


@router.post(
    "/api/auth/login",
    response_model=LoginResult,
    summary="Sign in with email and password",
    description="Public. Wrong password or unknown email: `401 invalid_credentials`.",
    responses=error_responses(401, 403, 422, 429, 503),
)
async def login(body: LoginRequest) -> LoginResult:
    try:
        answer = auth_client(get_settings()).sign_in_with_password(
            {"email": body.email, "password": body.password}
        )
    except AuthError as exc:
        raise auth_error(exc) from None
    session, user = answer.session, answer.user
    if session is None or user is None:
        raise unavailable("the sign-in service gave an unexpected answer; retry shortly")
    return LoginResult(
        session=auth_session(session),
        user=auth_user(user),
    )
