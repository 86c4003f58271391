"""API keys: a request with ``Authorization: Bearer ifk_...`` acts as the key's own
account, a member (or viewer) of one organization, under row-level security.

Each key is an account of its own (``api_keys.id`` = ``auth.users.id``, made by
``create_api_key``; migration 20261206130300) with a membership whose role follows its
scopes: ``viewer`` for read keys, ``member`` for write keys, never admin. For a request
with a key, `authenticate`:

1. reads the account's id from the key (``ifk_<id as 32 hex>_<secret>``),
2. mints a short-lived access token for that account, signed with the project's JWT
   secret as Supabase Auth signs its own (sub, role ``authenticated``, ``app_metadata``
   naming the key),
3. calls ``api_key_session(sha256(key))`` with that token: the database answers the key's
   scopes only when the hash is the account's key and the key is not revoked, and notes
   ``last_used_at``. Anything else is a 401, before the token is used for anything.
4. when the key was created by an admin at aal2 (``aal`` in that answer; migration
   20261206160100), mints the request's token again with ``aal: aal2``: a key is a
   non-interactive credential, and an organization that requires MFA accepts it when its
   creator proved a second factor to make it. Every minted token says
   ``amr: [{"method": "api_key"}]``; a key made below aal2 carries aal1 and is refused
   with 403 mfa_required once its organization requires MFA (docs/integrations.md).

The request then runs exactly as a person's: ``api_context`` (memberships, the rate limit
per key), the routes' PostgREST calls with the minted token, RLS and the column grants
deciding, the audit log naming the key's account. Never the service role.

Scopes are checked here, per route: the area of the path (`AREAS`) and read (GET) or
write (anything else); ``read``/``write`` alone cover every area, and write includes
read. Routes outside the areas (settings, members, integrations, auth) refuse keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared import db
from shared.auth import Caller
from shared.errors import ApiError, forbidden, unauthorized
from shared.models.integrations import AREAS
from shared.settings import Settings

PREFIX = "ifk_"
_KEY = re.compile(r"^ifk_([0-9a-f]{32})_([A-Za-z0-9_-]{32})$")
_SEGMENTS = {segment: area for area, segments in AREAS.items() for segment in segments}


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    organization_id: UUID
    name: str
    scopes: tuple[str, ...]


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(
    account: UUID,
    key_id: UUID,
    settings: Settings,
    now: float | None = None,
    aal: str = "aal1",
) -> tuple[str, dict[str, Any]]:
    """An HS256 access token for the key's account, as Supabase Auth would sign one; its
    assurance level `aal` (aal2 only for a key its creator made at aal2), its method the key."""
    if not settings.supabase_jwt_secret:
        raise ApiError(
            503, "service_unavailable", "API keys are not available: no JWT secret is configured"
        )
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": str(account),
        "role": "authenticated",
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + settings.api_key_token_seconds,
        "is_anonymous": False,
        "aal": aal,
        "amr": [{"method": "api_key", "timestamp": issued}],
        "app_metadata": {"provider": "api_key", "api_key_id": str(key_id)},
    }
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signed = f"{header}.{payload}".encode()
    mac = hmac.new(settings.supabase_jwt_secret.encode(), signed, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}", claims


def area_of(path: str) -> str | None:
    """The scope area of an API path (/api/<segment>/...), or None for routes keys may not use."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "api":
        return None
    return _SEGMENTS.get(parts[1])


def allows(scopes: tuple[str, ...], area: str, access: str) -> bool:
    wanted = {access, f"{area}:{access}"}
    if access == "read":
        wanted |= {"write", f"{area}:write"}
    return any(scope in wanted for scope in scopes)


def authenticate(key: str, settings: Settings) -> tuple[Caller, ApiKey]:
    """The caller a key speaks as (with its minted token), or a 401."""
    match = _KEY.match(key)
    if match is None:
        raise unauthorized("invalid_api_key", "the API key is not valid")
    account = UUID(match.group(1))
    token, claims = mint_token(account, account, settings)
    found = db.rpc(db.rest(settings, token), "api_key_session", {"key_hash": key_hash(key)})
    if not isinstance(found, dict):
        raise unauthorized("invalid_api_key", "the API key is not valid or has been revoked")
    info = ApiKey(
        id=UUID(str(found["id"])),
        organization_id=UUID(str(found["organization_id"])),
        name=str(found.get("name") or ""),
        scopes=tuple(str(s) for s in found.get("scopes") or ()),
    )
    if found.get("aal") == "aal2":
        token, claims = mint_token(account, account, settings, aal="aal2")
    return Caller(user_id=account, token=token, claims=claims), info


def check_scope(key: ApiKey, method: str, path: str) -> None:
    """403 unless the key's scopes allow this method on this path's area."""
    area = area_of(path)
    if area is None:
        raise forbidden("API keys cannot use this route; sign in as a person")
    access = "read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "write"
    if not allows(key.scopes, area, access):
        raise forbidden(
            f"this API key's scopes ({', '.join(key.scopes)}) do not allow {access} on {area}"
        )
