"""Reading auth.* rows and writing them out as GoTrue's JSON.

The JSON follows GoTrue's models (internal/models/user.go, identity.go, factor.go): the
same keys in the same order, ``omitempty`` fields left out when empty, JSON maps with
sorted keys (Go's ``encoding/json`` sorts map keys) and times in RFC 3339 with a ``Z``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from devstack.auth.tokens import go_time

NIL_UUID = uuid.UUID(int=0)
Conn = AsyncConnection[DictRow]
Row = dict[str, Any]


def sort_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def jsonb(value: Any) -> str:
    """A Python value as the text of a jsonb parameter (keys sorted, as Go writes)."""
    return json.dumps(sort_keys(value), separators=(",", ":"))


async def fetch_user(
    conn: Conn, user_id: uuid.UUID | str, *, for_update: bool = False
) -> Row | None:
    """GoTrue's ``FindUserByID``: the user with identities and factors (eager)."""
    query = "select * from auth.users where instance_id = %s and id = %s"
    cur = await conn.execute(
        query + " for update" if for_update else query, (NIL_UUID, str(user_id))
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return await _eager(conn, dict(row))


async def fetch_user_by_email(conn: Conn, email: str, aud: str) -> Row | None:
    """GoTrue's ``FindUserByEmailAndAudience`` (case-insensitive, non-SSO)."""
    cur = await conn.execute(
        "select * from auth.users where instance_id = %s and lower(email) = %s and aud = %s"
        " and is_sso_user = false limit 1",
        (NIL_UUID, email.lower(), aud),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return await _eager(conn, dict(row))


async def find_duplicate_email(
    conn: Conn, email: str, aud: str, current_user: uuid.UUID | None = None
) -> Row | None:
    """GoTrue's ``IsDuplicatedEmail``: another user owning an identity with this email
    (in the default linking domain) or, failing that, a user row with it."""
    cur = await conn.execute(
        "select distinct i.user_id from auth.identities i where i.email = %s"
        " and i.provider not like 'sso:%%'",
        (email.lower(),),
    )
    for row in await cur.fetchall():
        user_id = row["user_id"]
        if current_user is not None and user_id == current_user:
            continue
        user = await fetch_user(conn, user_id)
        if user is not None and user["aud"] == aud:
            return user
    user = await fetch_user_by_email(conn, email, aud)
    if user is not None and current_user is not None and user["id"] == current_user:
        return None
    return user


async def _eager(conn: Conn, user: Row) -> Row:
    cur = await conn.execute(
        "select * from auth.identities where user_id = %s order by created_at, id", (user["id"],)
    )
    user["_identities"] = [dict(r) for r in await cur.fetchall()]
    cur = await conn.execute(
        "select * from auth.mfa_factors where user_id = %s order by created_at, id", (user["id"],)
    )
    user["_factors"] = [dict(r) for r in await cur.fetchall()]
    return user


def has_verified_factor(user: Row) -> bool:
    return any(f["status"] == "verified" for f in user.get("_factors", []))


def identity_json(identity: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "identity_id": str(identity["id"]),
        "id": identity["provider_id"],
        "user_id": str(identity["user_id"]),
    }
    data = identity["identity_data"] or {}
    if data:
        out["identity_data"] = sort_keys(data)
    out["provider"] = identity["provider"]
    if identity["last_sign_in_at"] is not None:
        out["last_sign_in_at"] = go_time(identity["last_sign_in_at"])
    out["created_at"] = go_time(identity["created_at"])
    out["updated_at"] = go_time(identity["updated_at"])
    if identity.get("email"):
        out["email"] = identity["email"]
    return out


def factor_json(factor: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(factor["id"]),
        "created_at": go_time(factor["created_at"]),
        "updated_at": go_time(factor["updated_at"]),
        "status": factor["status"],
    }
    if factor["friendly_name"]:
        out["friendly_name"] = factor["friendly_name"]
    out["factor_type"] = factor["factor_type"]
    out["phone"] = factor["phone"] or ""
    out["last_challenged_at"] = go_time(factor["last_challenged_at"])
    return out


def user_json(user: Row, *, eager: bool = True) -> dict[str, Any]:
    """GoTrue's ``models.User`` as JSON. ``eager=False`` is a user loaded without its
    associations (the admin list), whose ``identities`` is null."""

    def put_time(key: str, value: datetime | None) -> None:
        if value is not None:
            out[key] = go_time(value)

    out: dict[str, Any] = {
        "id": str(user["id"]),
        "aud": user["aud"] or "",
        "role": user["role"] or "",
        "email": user["email"] or "",
    }
    put_time("email_confirmed_at", user["email_confirmed_at"])
    put_time("invited_at", user["invited_at"])
    out["phone"] = user["phone"] or ""
    put_time("phone_confirmed_at", user["phone_confirmed_at"])
    put_time("confirmation_sent_at", user["confirmation_sent_at"])
    put_time("confirmed_at", user["confirmed_at"])
    put_time("recovery_sent_at", user["recovery_sent_at"])
    if user["email_change"]:
        out["new_email"] = user["email_change"]
    put_time("email_change_sent_at", user["email_change_sent_at"])
    if user["phone_change"]:
        out["new_phone"] = user["phone_change"]
    put_time("phone_change_sent_at", user["phone_change_sent_at"])
    put_time("reauthentication_sent_at", user["reauthentication_sent_at"])
    put_time("last_sign_in_at", user["last_sign_in_at"])
    out["app_metadata"] = sort_keys(user["raw_app_meta_data"] or {})
    out["user_metadata"] = sort_keys(user["raw_user_meta_data"] or {})
    factors = user.get("_factors") if eager else None
    if factors:
        out["factors"] = [factor_json(f) for f in factors]
    out["identities"] = [identity_json(i) for i in user.get("_identities", [])] if eager else None
    out["created_at"] = go_time(user["created_at"])
    out["updated_at"] = go_time(user["updated_at"])
    put_time("banned_until", user["banned_until"])
    put_time("deleted_at", user["deleted_at"])
    out["is_anonymous"] = bool(user["is_anonymous"])
    return out
