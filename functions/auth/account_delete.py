"""DELETE /api/auth/account: the caller deletes their own account.

One call, as the caller: ``public.delete_account()`` (migration
20261206170300_mfa_policy_cost.sql) refuses, or deletes the caller's auth.users row (the
identities, sessions and factors go with it, as with Auth's admin delete, and the
profile, settings and memberships by their foreign keys). The HTTP functions never hold
the service role key Auth's admin API needs (tests/deploy/test_package.py). Refusals,
before anything is deleted:

* the session has ended: ``401 session_ended`` (functions/auth/mfa.py's ``Person``);
* an account with a verified MFA factor below aal2: ``403 mfa_required``;
* the last owner of an organization that has other members: ``409 last_owner`` naming
  each organization, to transfer (POST /api/organizations/{id}/transfer-ownership) or
  close (DELETE /api/organizations/{id}) first.

Auth's own path (``DELETE /auth/v1/admin/users/{id}``, the dashboard) meets the
database's trigger instead, which Supabase Auth answers with its generic 500 "Database
error deleting user" (docs/teams.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from functions.auth import error_responses
from functions.auth.mfa import Person
from shared import db
from shared.errors import ApiError
from shared.settings import get_settings

router = APIRouter(tags=["auth"])


def _last_owner(organizations: list[dict[str, Any]]) -> ApiError:
    names = ", ".join(f'"{o["name"]}"' for o in organizations)
    return ApiError(
        409,
        "last_owner",
        f"you are the last owner of {names}, which other members still use: transfer the"
        " ownership (POST /api/organizations/{id}/transfer-ownership) or close the"
        " organization (DELETE /api/organizations/{id}) first",
        details={"organizations": [{"id": o["id"], "name": o["name"]} for o in organizations]},
    )


@router.delete(
    "/api/auth/account",
    status_code=204,
    response_class=Response,
    summary="Delete your account",
    description=(
        "Deletes the signed-in user: their sessions, factors, profile, settings and "
        "memberships go with it; the organizations' records stay. With a verified MFA "
        "factor the session must be at aal2 (`403 mfa_required`). The last owner of an "
        "organization that has other members is refused with `409 last_owner`, the "
        "organizations in `details.organizations`: transfer the ownership or close each "
        "first."
    ),
    responses=error_responses(401, 403, 409, 503),
)
async def delete_account(caller: Person) -> Response:
    settings = get_settings()
    answer = db.rpc(db.rest(settings, caller.token), "delete_account", {})
    if not answer.get("deleted"):
        raise _last_owner(list(answer.get("last_owner_of") or []))
    return Response(status_code=204)
