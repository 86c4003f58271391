"""POST /api/auth/signup: a new account through Supabase Auth, signed in at once.

The names go to Auth as user metadata, from which the database's signup trigger
fills the profile and names the personal organization it creates (the business
name, else the person's name). The answer carries the session and that
organization, so the frontend can go straight to work.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.auth import error_responses
from shared import db
from shared.auth_client import AuthError, auth_client, auth_error, auth_session, auth_user
from shared.errors import ApiError, unavailable
from shared.log import get_logger
from shared.models.auth import OrganizationMembership, SignupRequest, SignupResult
from shared.settings import Settings, get_settings

router = APIRouter(tags=["auth"])


def _personal_organization(settings: Settings, token: str) -> OrganizationMembership | None:
    """The organization the signup trigger made, read with the new user's token."""
    try:
        info = db.rpc(
            db.rest(settings, token), "api_context", {"rate_limit": 0, "window_seconds": 60}
        )
    except ApiError as exc:
        # The account exists either way; a retry of the signup would only hit 409.
        get_logger(settings.log_level).warning(
            "signup: organization lookup failed", extra={"fields": {"code": exc.code}}
        )
        return None
    organizations: list[dict[str, Any]] = info.get("organizations") or []
    for org in organizations:
        if org.get("personal") and org.get("role") == "owner":
            return OrganizationMembership.model_validate(org)
    return None


@router.post(
    "/api/auth/signup",
    response_model=SignupResult,
    status_code=201,
    summary="Create an account (and its personal organization)",
    description=(
        "Public. An email already registered is `409 conflict`; a weak password or a bad "
        "email is `422`. When the project requires email confirmation the answer has no "
        "session (and Auth does not tell whether the address was taken)."
    ),
    responses=error_responses(409, 422, 503),
)
async def signup(body: SignupRequest) -> SignupResult:
    settings = get_settings()
    metadata = {
        "first_name": body.first_name,
        "last_name": body.last_name,
        **({"business_name": body.business_name} if body.business_name else {}),
    }
    try:
        answer = auth_client(settings).sign_up(
            {"email": body.email, "password": body.password, "options": {"data": metadata}}
        )
    except AuthError as exc:
        raise auth_error(exc) from None
    if answer.user is None:
        raise unavailable("the sign-in service gave an unexpected answer; retry shortly")
    user = answer.user
    session = answer.session
    return SignupResult(
        session=auth_session(session) if session else None,
        user=auth_user(user),
        organization=_personal_organization(settings, session.access_token) if session else None,
        email_confirmation_required=session is None,
    )
