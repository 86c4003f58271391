"""Auth conformance: sign-up and the password grant, driven by the official
``supabase_auth`` client (and raw httpx where the client hides status and headers).

Expectations come from Supabase Auth as docs/devstack.md ("Auth") describes it, and
GoTrue v2.186's source: internal/api/signup.go, token.go, errors.go,
internal/models/user.go, identity.go, internal/tokens/service.go.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import jwt
import psycopg
import pytest
from psycopg.types.json import Jsonb
from supabase import ClientOptions, create_client
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from devstack.postgres import Database
from tests.stacks import Target

Gotrue = Callable[[], SyncGoTrueClient]
PASSWORD = "correct-horse-42"


def _email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def _headers(stack: Target, *, version: bool = True) -> dict[str, str]:
    headers = {"apikey": stack.config.keys.anon_key}
    if version:
        headers["X-Supabase-Api-Version"] = "2024-01-01"
    return headers


def test_signup_returns_a_session_and_runs_the_signup_trigger(
    gotrue: Gotrue, auth_stack: Target, database: Database
) -> None:
    """Reference §4: with email confirmations off (supabase/config.toml) sign-up answers
    200 with a Session; ``data`` becomes raw_user_meta_data (signup.go ToUserModel), an
    ``email`` identity is created, and the project's on_auth_user_created trigger
    (private.handle_new_user) builds the profile and the personal organization."""
    email = _email("Signup").replace("signup", "SignUp")
    client = gotrue()
    response = client.sign_up(
        {
            "email": email,
            "password": PASSWORD,
            "options": {
                "data": {"first_name": "Ada", "last_name": "Lovelace", "business_name": "Engines"}
            },
        }
    )
    assert response.session is not None
    assert response.user is not None
    session = response.session
    assert session.token_type == "bearer"
    assert session.expires_in == 3600
    assert session.expires_at is not None
    assert len(session.refresh_token) == 12
    user = response.user
    assert user.email == email.lower()
    assert user.aud == "authenticated"
    assert user.role == "authenticated"
    assert user.phone == ""
    assert user.email_confirmed_at is not None
    assert user.confirmed_at is not None
    assert user.last_sign_in_at is not None
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.user_metadata == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "business_name": "Engines",
        "email_verified": True,
    }
    assert user.is_anonymous is False
    assert user.identities is not None
    assert len(user.identities) == 1
    identity = user.identities[0]
    assert identity.provider == "email"
    assert identity.id == user.id
    assert identity.identity_data["email"] == email.lower()
    assert identity.identity_data["sub"] == user.id

    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "select u.email, u.encrypted_password, u.raw_user_meta_data->>'business_name',"
            " p.email, o.name, m.role"
            " from auth.users u join public.profiles p on p.id = u.id"
            " join public.memberships m on m.user_id = u.id"
            " join public.organizations o on o.id = m.organization_id and o.personal"
            " where u.id = %s",
            (user.id,),
        ).fetchone()
        identities = conn.execute(
            "select count(*) from auth.identities where user_id = %s and provider = 'email'",
            (user.id,),
        ).fetchone()
    assert row is not None
    stored_email, hashed, business, profile_email, org_name, role = row
    assert stored_email == email.lower()
    assert str(hashed).startswith(("$2a$10$", "$2b$10$"))
    assert business == "Engines"
    assert profile_email == email.lower()
    assert org_name == "Engines"
    assert role == "owner"
    assert identities == (1,)


def test_access_token_carries_gotrue_claims_usable_by_auth_uid(
    gotrue: Gotrue, auth_stack: Target, database: Database
) -> None:
    """Reference §1 and §4 (tokens/service.go AccessTokenClaims): iss, sub, aud
    "authenticated", exp = iat + 3600, email, phone, app/user metadata, role, aal,
    amr [{method, timestamp}], session_id, is_anonymous; HS256 with the JWT secret.
    PostgreSQL's auth.uid() reads ``sub`` from request.jwt.claims."""
    email = _email()
    session = gotrue().sign_up({"email": email, "password": PASSWORD}).session
    assert session is not None
    claims = jwt.decode(
        session.access_token,
        auth_stack.config.keys.jwt_secret,
        algorithms=["HS256"],
        audience="authenticated",
    )
    assert jwt.get_unverified_header(session.access_token) == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == auth_stack.url + "/auth/v1"
    assert claims["sub"] == session.user.id
    assert claims["aud"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["exp"] == session.expires_at
    assert claims["email"] == email
    assert claims["phone"] == ""
    assert claims["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert claims["user_metadata"] == {"email_verified": True}
    assert claims["role"] == "authenticated"
    assert claims["aal"] == "aal1"
    assert [entry["method"] for entry in claims["amr"]] == ["password"]
    assert isinstance(claims["amr"][0]["timestamp"], int)
    assert claims["is_anonymous"] is False
    uuid.UUID(claims["session_id"])

    with psycopg.connect(database.url) as conn:
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        row = conn.execute("select auth.uid()::text, auth.role(), auth.email()").fetchone()
        sessions = conn.execute(
            "select aal from auth.sessions where id = %s", (claims["session_id"],)
        ).fetchone()
    assert row == (session.user.id, "authenticated", email)
    assert sessions == ("aal1",)


def test_sign_in_with_password_is_case_insensitive_and_rotates_sessions(
    gotrue: Gotrue, database: Database
) -> None:
    """token.go ResourceOwnerPasswordGrant: FindUserByEmailAndAudience compares
    lower(email); every sign-in is a new session (auth.sessions) with its own refresh
    token; GET /user returns the same User shape."""
    email = _email()
    gotrue().sign_up({"email": email, "password": PASSWORD})
    client = gotrue()
    response = client.sign_in_with_password({"email": email.upper(), "password": PASSWORD})
    assert response.session is not None
    assert response.user is not None
    assert response.user.email == email
    fetched = client.get_user()
    assert fetched is not None
    assert fetched.user.id == response.user.id
    assert fetched.user.identities is not None
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "select count(*) from auth.sessions where user_id = %s", (response.user.id,)
        ).fetchone()
    assert row == (2,)


def test_wrong_password_and_unknown_email_are_invalid_credentials(
    gotrue: Gotrue, auth_stack: Target
) -> None:
    """token.go: both are 400 invalid_credentials "Invalid login credentials"; with the
    API-version header the body is {code, message} and x-sb-error-code is set
    (errors.go HandleResponseError)."""
    email = _email()
    gotrue().sign_up({"email": email, "password": PASSWORD})
    with pytest.raises(AuthApiError) as caught:
        gotrue().sign_in_with_password({"email": email, "password": "wrong-password"})
    assert caught.value.status == 400
    assert caught.value.code == "invalid_credentials"
    assert caught.value.message == "Invalid login credentials"

    reply = httpx.post(
        auth_stack.url + "/auth/v1/token?grant_type=password",
        headers=_headers(auth_stack),
        json={"email": _email("nobody"), "password": PASSWORD},
    )
    assert reply.status_code == 400
    assert reply.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}
    assert reply.headers["x-sb-error-code"] == "invalid_credentials"
    assert reply.headers["x-supabase-api-version"] == "2024-01-01"


def test_errors_without_the_api_version_header_use_the_legacy_shape(
    auth_stack: Target,
) -> None:
    """errors.go: without X-Supabase-Api-Version the body is HTTPError
    {"code": <status>, "error_code", "msg"} and no version header is echoed."""
    reply = httpx.post(
        auth_stack.url + "/auth/v1/token?grant_type=password",
        headers=_headers(auth_stack, version=False),
        json={"email": _email("nobody"), "password": PASSWORD},
    )
    assert reply.status_code == 400
    assert reply.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }
    assert reply.headers["x-sb-error-code"] == "invalid_credentials"
    assert "x-supabase-api-version" not in reply.headers


def test_duplicate_signup_is_user_already_exists(gotrue: Gotrue) -> None:
    """signup.go: a confirmed user signing up again with autoconfirm on is 422
    user_already_exists "User already registered" (any letter case)."""
    email = _email()
    gotrue().sign_up({"email": email, "password": PASSWORD})
    with pytest.raises(AuthApiError) as caught:
        gotrue().sign_up({"email": email.upper(), "password": PASSWORD})
    assert caught.value.status == 422
    assert caught.value.code == "user_already_exists"
    assert caught.value.message == "User already registered"


def test_short_password_is_weak_password_with_reasons(gotrue: Gotrue, auth_stack: Target) -> None:
    """password.go checkPasswordStrength: shorter than the minimum length is 422
    weak_password with weak_password.reasons ["length"] (no x-sb-error-code header in
    the 2024-01-01 shape, errors.go)."""
    with pytest.raises(AuthWeakPasswordError) as caught:
        gotrue().sign_up({"email": _email(), "password": "abc"})
    assert caught.value.status == 422
    assert caught.value.code == "weak_password"
    assert caught.value.reasons == ["length"]
    reply = httpx.post(
        auth_stack.url + "/auth/v1/signup",
        headers=_headers(auth_stack),
        json={"email": _email(), "password": "abc"},
    )
    assert reply.status_code == 422
    assert reply.json() == {
        "code": "weak_password",
        "message": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }


def test_signup_validation_failures(auth_stack: Target) -> None:
    """signup.go / mail.go validateEmail: a malformed email or a missing password is 400
    validation_failed; no email nor phone asks for an anonymous sign-in, disabled
    locally (422 anonymous_provider_disabled); a body that is not JSON is 400 bad_json."""
    url = auth_stack.url + "/auth/v1/signup"
    headers = _headers(auth_stack)
    bad_email = httpx.post(
        url, headers=headers, json={"email": "not-an-email", "password": PASSWORD}
    )
    assert bad_email.status_code == 400
    assert bad_email.json() == {
        "code": "validation_failed",
        "message": "Unable to validate email address: invalid format",
    }
    no_password = httpx.post(url, headers=headers, json={"email": _email()})
    assert no_password.status_code == 400
    assert no_password.json()["code"] == "validation_failed"
    assert no_password.json()["message"] == "Signup requires a valid password"
    anonymous = httpx.post(url, headers=headers, json={"data": {}})
    assert anonymous.status_code == 422
    assert anonymous.json()["code"] == "anonymous_provider_disabled"
    garbage = httpx.post(url, headers={**headers, "content-type": "application/json"}, content=b"{")
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "bad_json"
    missing = httpx.post(
        auth_stack.url + "/auth/v1/token?grant_type=password",
        headers=headers,
        json={"password": PASSWORD},
    )
    assert missing.status_code == 400
    assert missing.json() == {"code": "validation_failed", "message": "missing email or phone"}


def test_seed_style_user_with_pgcrypto_bcrypt_can_sign_in(
    gotrue: Gotrue, database: Database
) -> None:
    """supabase/seed.sql inserts its demo user with extensions.crypt(..., gen_salt('bf',
    10)) ($2a$ hashes), as Supabase's docs show; GoTrue's bcrypt accepts them."""
    user_id = str(uuid.uuid4())
    email = _email("demo")
    with psycopg.connect(database.url) as conn:
        conn.execute(
            "insert into auth.users (instance_id, id, aud, role, email, encrypted_password,"
            " email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,"
            " confirmation_token, recovery_token, email_change_token_new, email_change)"
            " values ('00000000-0000-0000-0000-000000000000', %s, 'authenticated',"
            " 'authenticated', %s,"
            " extensions.crypt('invoiceflow-demo', extensions.gen_salt('bf', 10)),"
            ' now(), \'{"provider": "email", "providers": ["email"]}\','
            " '{\"first_name\": \"Dana\"}', now(), now(), '', '', '', '')",
            (user_id, email),
        )
        conn.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider,"
            " created_at, updated_at, last_sign_in_at)"
            " values (%s, %s, %s, 'email', now(), now(), now())",
            (user_id, user_id, Jsonb({"sub": user_id, "email": email})),
        )
        hashed = conn.execute(
            "select encrypted_password from auth.users where id = %s", (user_id,)
        ).fetchone()
    assert hashed is not None
    assert str(hashed[0]).startswith("$2a$10$")
    response = gotrue().sign_in_with_password({"email": email, "password": "invoiceflow-demo"})
    assert response.user is not None
    assert response.user.id == user_id
    assert response.user.user_metadata == {"first_name": "Dana"}


def test_supabase_create_client_auth_signs_up_and_in(auth_stack: Target) -> None:
    """The ``supabase`` package's client wraps the same Auth client: create_client(url,
    anon_key).auth must work against the local server unchanged."""
    supabase = create_client(
        auth_stack.url,
        auth_stack.config.keys.anon_key,
        options=ClientOptions(auto_refresh_token=False, persist_session=False),
    )
    email = _email("sb")
    try:
        signed_up = supabase.auth.sign_up({"email": email, "password": PASSWORD})
        assert signed_up.session is not None
        signed_in = supabase.auth.sign_in_with_password({"email": email, "password": PASSWORD})
        assert signed_in.session is not None
        current = supabase.auth.get_user()
        assert current is not None
        assert current.user.email == email
        supabase.auth.sign_out()
        assert supabase.auth.get_session() is None
    finally:
        supabase.auth.close()


def test_health_and_settings(auth_stack: Target) -> None:
    """api.go HealthCheck and settings.go: GET /health names GoTrue; GET /settings shows
    email on, phone off, mailer autoconfirm on (Supabase CLI local defaults)."""
    health = httpx.get(auth_stack.url + "/auth/v1/health", headers=_headers(auth_stack))
    assert health.status_code == 200
    assert health.json()["name"] == "GoTrue"
    settings = httpx.get(auth_stack.url + "/auth/v1/settings", headers=_headers(auth_stack))
    assert settings.status_code == 200
    body = settings.json()
    assert body["external"]["email"] is True
    assert body["external"]["phone"] is False
    assert body["disable_signup"] is False
    assert body["mailer_autoconfirm"] is True
    no_key = httpx.get(auth_stack.url + "/auth/v1/health")
    assert no_key.status_code == 401
    assert no_key.json()["message"] == "No API key found in request"
