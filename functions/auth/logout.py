"""POST /api/auth/logout: ends the caller's Supabase Auth session.

``scope``: ``local`` (default) ends this session, ``global`` every session of the
user, ``others`` every session but this one. The refresh tokens of the ended
sessions stop working at once; access tokens already issued stay valid until they
expire (they are checked by signature, see docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from functions.auth import error_responses
from shared.auth import bearer_token, verify
from shared.auth_client import AuthError, auth_client, auth_error
from shared.settings import get_settings

router = APIRouter(tags=["auth"])


@router.post(
    "/api/auth/logout",
    status_code=204,
    response_class=Response,
    summary="Sign out",
    responses=error_responses(401, 503),
)
async def logout(
    scope: Annotated[
        Literal["local", "global", "others"],
        Query(description="local: this session; global: all; others: all but this one"),
    ] = "local",
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    settings = get_settings()
    caller = verify(bearer_token(authorization), settings)
    try:
        auth_client(settings).admin.sign_out(caller.token, scope)
    except AuthError as exc:
        error = auth_error(exc)
        # The session is already gone (ended elsewhere, or the user deleted): the
        # caller is signed out, which is what they asked for.
        if error.status != 401:
            raise error from None
    return Response(status_code=204)
