"""Who is calling, for which organization, with which role: the dependencies routes use.

Dependencies and routes are ``async def`` even though they call PostgREST with a blocking
client: a Lambda instance serves one request at a time on Mangum's loop, so blocking it
costs nothing, while FastAPI would run each plain ``def`` on a worker thread (a thread hop
per dependency: measured 4 ms per request; bench/RESULTS.md).

``Depends(viewer)`` / ``Depends(member)`` / ``Depends(admin)`` verify the token, call
``api_context`` once (memberships and the rate limit in one round trip) and resolve
the organization: the only one the user has, or the one named by ``X-Organization-Id``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request

from shared import db
from shared.auth import Caller, bearer_token, verify
from shared.errors import ApiError, forbidden
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from shared.api_keys import ApiKey

ROLES = ("viewer", "member", "admin", "owner")


@dataclass(frozen=True)
class Membership:
    organization_id: UUID
    name: str
    role: str
    personal: bool
    # The organization requires an aal2 session (business.require_mfa).
    require_mfa: bool = False


@dataclass(frozen=True)
class User:
    """A signed-in caller, before any organization is chosen."""

    caller: Caller
    memberships: tuple[Membership, ...]
    db: Any  # postgrest client bound to the caller's JWT
    settings: Settings
    # A request with an API key (shared/api_keys.py): the key, its scopes checked per route.
    api_key: ApiKey | None = None

    @property
    def id(self) -> UUID:
        return self.caller.user_id


@dataclass(frozen=True)
class Context:
    """A signed-in caller acting in one organization."""

    user: User
    organization_id: UUID
    role: str

    @property
    def db(self) -> Any:
        return self.user.db

    @property
    def user_id(self) -> UUID:
        return self.user.id

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


async def _settings() -> Settings:
    return get_settings()


async def current_user(
    request: Request,
    settings: Annotated[Settings, Depends(_settings)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> User:
    token = bearer_token(authorization)
    key: ApiKey | None = None
    if token.startswith("ifk_"):
        # An API key (shared/api_keys.py), imported only when one arrives.
        from shared import api_keys  # noqa: PLC0415

        caller, key = api_keys.authenticate(token, settings)
        api_keys.check_scope(key, request.method, request.url.path)
    else:
        caller = verify(token, settings)
    client = db.rest(settings, caller.token)
    info = db.rpc(
        client,
        "api_context",
        {
            "rate_limit": settings.rate_limit_per_window,
            "window_seconds": settings.rate_limit_window_seconds,
        },
    )
    if info.get("limited"):
        retry = str(int(info.get("retry_after") or 1))
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; retry in {retry} s",
            details={"retry_after": int(retry), "limit": settings.rate_limit_per_window},
            headers={"Retry-After": retry},
        )
    memberships = tuple(
        Membership(
            UUID(m["id"]), m["name"], m["role"], bool(m["personal"]), bool(m.get("require_mfa"))
        )
        for m in info.get("organizations", [])
    )
    user = User(caller=caller, memberships=memberships, db=client, settings=settings, api_key=key)
    request.state.user_id = str(caller.user_id)
    return user


def _resolve(user: User, header: str | None) -> Membership:
    if header is not None and header.strip():
        try:
            wanted = UUID(header.strip())
        except ValueError:
            raise ApiError(
                400, "invalid_organization", "X-Organization-Id must be an organization's id"
            ) from None
        for membership in user.memberships:
            if membership.organization_id == wanted:
                return membership
        raise forbidden("you are not a member of the organization named by X-Organization-Id")
    if len(user.memberships) == 1:
        return user.memberships[0]
    if not user.memberships:
        raise forbidden("you are not a member of any organization")
    raise ApiError(
        400,
        "organization_required",
        "you belong to several organizations: name one with the X-Organization-Id header",
        details={"organizations": [str(m.organization_id) for m in user.memberships]},
    )


def mfa_required(user: User) -> ApiError:
    """403 mfa_required: the organization requires an aal2 session (the database
    refuses the same requests, migration 20261206140200)."""
    if user.api_key is not None:
        return ApiError(
            403,
            "mfa_required",
            "this organization requires multi-factor authentication and this API key was made "
            "below aal2: an admin signed in at aal2 makes one that may act in it",
        )
    return ApiError(
        403,
        "mfa_required",
        "this organization requires multi-factor authentication: verify a TOTP code "
        "(POST /api/auth/mfa/challenge then /api/auth/mfa/verify; enroll one first with "
        "POST /api/auth/mfa/enroll) and send the aal2 access token it answers",
    )


def _requiring(role: str) -> Callable[..., Coroutine[Any, Any, Context]]:
    async def dependency(
        user: Annotated[User, Depends(current_user)],
        x_organization_id: Annotated[
            str | None,
            Header(description="The organization to act in; required for members of several."),
        ] = None,
    ) -> Context:
        membership = _resolve(user, x_organization_id)
        context = Context(
            user=user, organization_id=membership.organization_id, role=membership.role
        )
        if not context.at_least(role):
            raise forbidden(
                f"your role ({membership.role}) may not do this; it needs {role} or above"
            )
        if membership.require_mfa and user.caller.claims.get("aal") != "aal2":
            raise mfa_required(user)
        return context

    dependency.__name__ = f"require_{role}"
    return dependency


viewer = _requiring("viewer")
member = _requiring("member")
admin = _requiring("admin")

Viewer = Annotated[Context, Depends(viewer)]
Member = Annotated[Context, Depends(member)]
Admin = Annotated[Context, Depends(admin)]
SignedIn = Annotated[User, Depends(current_user)]
