"""Auth conformance: refresh-token rotation and reuse detection, logout scopes and the
bearer-token checks of GET /user.

Expectations come from reference §4 and GoTrue v2.186's internal/tokens/service.go
(RefreshTokenGrant), internal/models/refresh_token.go (GrantRefreshTokenSwap,
RevokeTokenFamily), internal/api/logout.go and internal/api/auth.go
(requireAuthentication).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import psycopg
import pytest
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError
from supabase_auth.types import Session

from devstack.postgres import Database
from tests.stacks import Target

Gotrue = Callable[[], SyncGoTrueClient]
PASSWORD = "correct-horse-42"


def _session(gotrue: Gotrue) -> tuple[SyncGoTrueClient, Session]:
    client = gotrue()
    email = f"s-{uuid.uuid4().hex[:10]}@example.com"
    response = client.sign_up({"email": email, "password": PASSWORD})
    assert response.session is not None
    return client, response.session


def _refresh(stack: Target, token: str) -> httpx.Response:
    return httpx.post(
        stack.url + "/auth/v1/token?grant_type=refresh_token",
        headers={"apikey": stack.config.keys.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
        json={"refresh_token": token},
    )


def test_refresh_rotates_the_token_and_keeps_the_parent_chain(
    gotrue: Gotrue, database: Database
) -> None:
    """service.go RefreshTokenGrant + GrantRefreshTokenSwap: the used token is revoked,
    the new one names it as parent, in the same session; the new access token keeps
    the session's AMR (password) and session_id."""
    client, first = _session(gotrue)
    refreshed = client.refresh_session(first.refresh_token)
    assert refreshed.session is not None
    second = refreshed.session
    assert second.refresh_token != first.refresh_token
    old_claims = jwt.decode(first.access_token, options={"verify_signature": False})
    new_claims = jwt.decode(second.access_token, options={"verify_signature": False})
    assert new_claims["session_id"] == old_claims["session_id"]
    assert [a["method"] for a in new_claims["amr"]] == ["password"]
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(
            "select token, parent, revoked, session_id::text from auth.refresh_tokens"
            " where session_id = %s order by id",
            (old_claims["session_id"],),
        ).fetchall()
    assert rows == [
        (first.refresh_token, None, True, old_claims["session_id"]),
        (second.refresh_token, first.refresh_token, False, old_claims["session_id"]),
    ]


def test_reusing_the_parent_token_returns_the_active_token(
    gotrue: Gotrue, auth_stack: Target
) -> None:
    """service.go: a revoked token whose child is the session's active token (the client
    lost the last answer) gets that active token back instead of a new one."""
    client, first = _session(gotrue)
    second = client.refresh_session(first.refresh_token).session
    assert second is not None
    again = _refresh(auth_stack, first.refresh_token)
    assert again.status_code == 200
    assert again.json()["refresh_token"] == second.refresh_token


def test_reuse_within_the_interval_is_allowed_beyond_it_revokes_the_family(
    gotrue: Gotrue, auth_stack: Target, database: Database
) -> None:
    """service.go: an older revoked token (not the active token's parent) may be reused
    within refresh_token_reuse_interval (10 s) of its revocation; beyond it the answer
    is 400 refresh_token_already_used and every token of the session is revoked
    (RevokeTokenFamily), so the active token stops working too once its own interval
    has passed."""
    client, first = _session(gotrue)
    second = client.refresh_session(first.refresh_token).session
    assert second is not None
    third = client.refresh_session(second.refresh_token).session
    assert third is not None
    # Another session: there `first` is revoked and is not the parent of the active
    # token, yet within the interval it still yields a session (a new token).
    other_client, other_first = _session(gotrue)
    other_second = other_client.refresh_session(other_first.refresh_token).session
    assert other_second is not None
    other_third = other_client.refresh_session(other_second.refresh_token).session
    assert other_third is not None
    within = _refresh(auth_stack, other_first.refresh_token)
    assert within.status_code == 200
    assert within.json()["refresh_token"] not in {
        other_first.refresh_token,
        other_third.refresh_token,
    }

    with psycopg.connect(database.url) as conn:
        conn.execute(
            "update auth.refresh_tokens set updated_at = now() - interval '1 minute'"
            " where token = %s",
            (first.refresh_token,),
        )
    reused = _refresh(auth_stack, first.refresh_token)
    assert reused.status_code == 400
    assert reused.json() == {
        "code": "refresh_token_already_used",
        "message": "Invalid Refresh Token: Already Used",
    }
    assert reused.headers["x-sb-error-code"] == "refresh_token_already_used"
    with psycopg.connect(database.url) as conn:
        live = conn.execute(
            "select count(*) from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id"
            " where s.user_id = %s and not t.revoked",
            (first.user.id,),
        ).fetchone()
        conn.execute(
            "update auth.refresh_tokens set updated_at = now() - interval '1 minute'"
            " where session_id in (select id from auth.sessions where user_id = %s)",
            (first.user.id,),
        )
    assert live == (0,)
    with pytest.raises(AuthApiError) as caught:
        client.refresh_session(third.refresh_token)
    assert str(caught.value.code) == "refresh_token_already_used"


def test_unknown_refresh_token_is_refresh_token_not_found(
    gotrue: Gotrue, auth_stack: Target
) -> None:
    """service.go: an unknown token is 400 refresh_token_not_found; an empty one is the
    OAuth error {"error": "invalid_request", "error_description": "refresh_token
    required"}."""
    with pytest.raises(AuthApiError) as caught:
        gotrue().refresh_session("aaaaaaaaaaaa")
    assert caught.value.status == 400
    assert str(caught.value.code) == "refresh_token_not_found"
    empty = _refresh(auth_stack, "")
    assert empty.status_code == 400
    assert empty.json() == {
        "error": "invalid_request",
        "error_description": "refresh_token required",
    }


def test_global_logout_ends_every_session(
    gotrue: Gotrue, auth_stack: Target, database: Database
) -> None:
    """logout.go: POST /logout (scope=global) is 204 and deletes all the user's sessions;
    afterwards GET /user with the old access token is 403 session_not_found
    (auth.go maybeLoadUserOrSession) and the refresh token is gone."""
    client, session = _session(gotrue)
    other = gotrue()
    other.sign_in_with_password({"email": session.user.email or "", "password": PASSWORD})
    headers = {
        "apikey": auth_stack.config.keys.anon_key,
        "Authorization": f"Bearer {session.access_token}",
        "X-Supabase-Api-Version": "2024-01-01",
    }
    reply = httpx.post(auth_stack.url + "/auth/v1/logout?scope=global", headers=headers)
    assert reply.status_code == 204
    assert reply.content == b""
    with psycopg.connect(database.url) as conn:
        count = conn.execute(
            "select count(*) from auth.sessions where user_id = %s", (session.user.id,)
        ).fetchone()
    assert count == (0,)
    after = httpx.get(auth_stack.url + "/auth/v1/user", headers=headers)
    assert after.status_code == 403
    assert after.json() == {
        "code": "session_not_found",
        "message": "Session from session_id claim in JWT does not exist",
    }
    assert after.headers["x-sb-error-code"] == "session_not_found"
    with pytest.raises(AuthApiError) as caught:
        client.get_user(session.access_token)
    assert caught.value.code == "session_not_found"
    assert _refresh(auth_stack, session.refresh_token).json()["code"] == "refresh_token_not_found"


def test_local_and_others_logout_scopes(gotrue: Gotrue, database: Database) -> None:
    """logout.go: scope=local ends only the current session, scope=others every session
    but the current one."""
    first_client, first = _session(gotrue)
    email = first.user.email or ""
    second = gotrue().sign_in_with_password({"email": email, "password": PASSWORD}).session
    third_client = gotrue()
    third = third_client.sign_in_with_password({"email": email, "password": PASSWORD}).session
    assert second is not None
    assert third is not None

    def sessions() -> set[str]:
        with psycopg.connect(database.url) as conn:
            rows = conn.execute(
                "select id::text from auth.sessions where user_id = %s", (first.user.id,)
            ).fetchall()
        return {str(r[0]) for r in rows}

    def sid(s: Session) -> str:
        return str(jwt.decode(s.access_token, options={"verify_signature": False})["session_id"])

    first_client.sign_out({"scope": "local"})
    assert sessions() == {sid(second), sid(third)}
    third_client.sign_out({"scope": "others"})
    assert sessions() == {sid(third)}
    assert third_client.get_session() is not None


def test_get_user_requires_a_valid_bearer_token(gotrue: Gotrue, auth_stack: Target) -> None:
    """auth.go: no Bearer token → 401 no_authorization; a token that fails verification
    → 403 bad_jwt; the anon key (no sub) → 403 bad_jwt; an expired token → 403 bad_jwt."""
    url = auth_stack.url + "/auth/v1/user"
    base = {"X-Supabase-Api-Version": "2024-01-01"}
    anon = auth_stack.config.keys.anon_key
    missing = httpx.get(url, headers={**base, "apikey": anon, "Authorization": "Basic abc"})
    assert missing.status_code == 401
    assert missing.json()["code"] == "no_authorization"
    forged = httpx.get(url, headers={**base, "apikey": anon, "Authorization": "Bearer a.b.c"})
    assert forged.status_code == 403
    assert forged.json()["code"] == "bad_jwt"
    with_anon = httpx.get(url, headers={**base, "apikey": anon})
    assert with_anon.status_code == 403
    assert with_anon.json() == {"code": "bad_jwt", "message": "invalid claim: missing sub claim"}
    _, session = _session(gotrue)
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    claims.update(exp=int(time.time()) - 60, iat=int(time.time()) - 3660)
    expired = jwt.encode(claims, auth_stack.config.keys.jwt_secret, algorithm="HS256")
    reply = httpx.get(url, headers={**base, "apikey": anon, "Authorization": f"Bearer {expired}"})
    assert reply.status_code == 403
    assert reply.json()["code"] == "bad_jwt"
