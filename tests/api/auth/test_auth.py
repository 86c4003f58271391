"""Signup, login and logout through Supabase Auth (the local one, or a real project).

Every test signs up its own address, so the session's shared world is untouched."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from supabase_auth.errors import AuthApiError, AuthRetryableError, AuthWeakPasswordError

from shared import auth_client
from shared.auth_client import auth_error
from shared.settings import Settings, get_settings
from tests.api.conftest import Api, World

PASSWORD = "correct horse battery staple"


def new_email(tag: str = "signup") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@auth-test.invoiceflow.local"


def signup(api: Api, **overrides: Any) -> Any:
    body = {
        "email": new_email(),
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "business_name": "Analytical Engines Ltd",
        **overrides,
    }
    return api.post("/api/auth/signup", json_body=body)


def refresh(world: World, refresh_token: str) -> httpx.Response:
    """Trades a refresh token with Auth directly, as a frontend's Supabase client does."""
    return httpx.post(
        f"{world.stack.url}/auth/v1/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": refresh_token},
        headers={"apikey": world.stack.config.keys.anon_key},
        timeout=10,
    )


def test_signup_creates_the_user_and_a_personal_organization(any_api: Api, world: World) -> None:
    email = new_email()
    reply = signup(any_api, email=email.upper())
    assert reply.status == 201, reply.json()
    body = reply.json()
    session, user, org = body["session"], body["user"], body["organization"]
    assert body["email_confirmation_required"] is False
    assert session["access_token"]
    assert session["refresh_token"]
    assert session["token_type"] == "bearer"
    assert session["expires_in"] > 0
    assert user["email"] == email  # lower-cased
    assert (user["first_name"], user["last_name"]) == ("Ada", "Lovelace")
    assert org["name"] == "Analytical Engines Ltd"
    assert (org["role"], org["personal"]) == ("owner", True)

    rows = world.sql(
        "select o.name, o.personal, m.role::text from public.organizations o"
        " join public.memberships m on m.organization_id = o.id"
        " where m.user_id = %s",
        user["id"],
    )
    assert rows == [("Analytical Engines Ltd", True, "owner")]
    profile = world.sql(
        "select email, first_name, last_name from public.profiles where id = %s", user["id"]
    )
    assert profile == [(email, "Ada", "Lovelace")]

    # The session's token works with the API.
    me = any_api.get("/api/auth/me", token=session["access_token"])
    assert me.status == 200, me.json()
    assert me.json()["user"]["email"] == email
    assert [o["id"] for o in me.json()["organizations"]] == [org["id"]]
    business = any_api.get("/api/settings/business", token=session["access_token"])
    assert business.json()["business_name"] == "Analytical Engines Ltd"


def test_signup_without_business_name_names_the_organization_after_the_person(
    api: Api,
) -> None:
    reply = signup(api, business_name=None, first_name="Grace", last_name="Hopper")
    assert reply.status == 201, reply.json()
    assert reply.json()["organization"]["name"] == "Grace Hopper"


def test_signup_with_a_registered_email_is_409(api: Api) -> None:
    email = new_email("dup")
    assert signup(api, email=email).status == 201
    reply = signup(api, email=email, password="another password 123")
    assert reply.status == 409
    assert reply.error["code"] == "conflict"
    assert "already" in reply.error["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "x" * 73}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b@c.com"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"business_name": "x" * 201}, "business_name"),
        ({"role": "admin"}, "role"),
    ],
)
def test_signup_validation(api: Api, change: dict[str, Any], field: str) -> None:
    reply = signup(api, **change)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert [d["field"] for d in reply.error["details"]] == [field]


def test_signup_does_not_trim_the_password(api: Api) -> None:
    email = new_email("spaces")
    assert signup(api, email=email, password="  spaced out  ").status == 201
    assert (
        api.post("/api/auth/login", json_body={"email": email, "password": "spaced out"}).status
        == 401
    )
    reply = api.post("/api/auth/login", json_body={"email": email, "password": "  spaced out  "})
    assert reply.status == 200


def test_login_returns_a_session(any_api: Api) -> None:
    email = new_email("login")
    created = signup(any_api, email=email).json()
    reply = any_api.post(
        "/api/auth/login", json_body={"email": email.title(), "password": PASSWORD}
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["user"]["id"] == created["user"]["id"]
    assert body["user"]["email"] == email
    assert body["session"]["access_token"] != created["session"]["access_token"]
    me = any_api.get("/api/auth/me", token=body["session"]["access_token"])
    assert me.status == 200


def test_wrong_password_and_unknown_email_are_the_same_401(api: Api) -> None:
    email = new_email("wrong")
    signup(api, email=email)
    wrong = api.post("/api/auth/login", json_body={"email": email, "password": "not it at all"})
    unknown = api.post(
        "/api/auth/login", json_body={"email": new_email("nobody"), "password": PASSWORD}
    )
    for reply in (wrong, unknown):
        assert reply.status == 401
        assert reply.error["code"] == "invalid_credentials"
        assert reply.headers["www-authenticate"] == "Bearer"
    assert wrong.error["message"] == unknown.error["message"]
    assert wrong.error["details"] == unknown.error["details"]


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "a@b.co"}, {"email": "", "password": "x"}, {"email": "a@b.co", "password": ""}],
)
def test_login_validation(api: Api, body: dict[str, str]) -> None:
    reply = api.post("/api/auth/login", json_body=body)
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"


def test_logout_ends_the_session_and_its_refresh_token(any_api: Api, world: World) -> None:
    session = signup(any_api).json()["session"]
    # A refresh works before...
    renewed = refresh(world, session["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    session = renewed.json()

    reply = any_api.post("/api/auth/logout", token=session["access_token"])
    assert reply.status == 204
    assert reply.content == b""

    # ...and not after.
    after = refresh(world, session["refresh_token"])
    assert after.status_code in (400, 401, 403, 404), after.text
    # Logging out again is harmless: the session is already gone.
    assert any_api.post("/api/auth/logout", token=session["access_token"]).status == 204


def test_logout_scopes(api: Api, world: World) -> None:
    email = new_email("scopes")
    first = signup(api, email=email).json()["session"]
    second = api.post("/api/auth/login", json_body={"email": email, "password": PASSWORD}).json()[
        "session"
    ]
    third = api.post("/api/auth/login", json_body={"email": email, "password": PASSWORD}).json()[
        "session"
    ]

    reply = api.post("/api/auth/logout", token=first["access_token"], query={"scope": "others"})
    assert reply.status == 204
    assert refresh(world, first["refresh_token"]).status_code == 200
    assert refresh(world, second["refresh_token"]).status_code != 200

    reply = api.post("/api/auth/logout", token=third["access_token"], query={"scope": "global"})
    assert reply.status == 204

    reply = api.post("/api/auth/logout", token=third["access_token"], query={"scope": "everyone"})
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "scope"


def test_logout_needs_a_valid_token(api: Api, world: World) -> None:
    reply = api.post("/api/auth/logout")
    assert reply.status == 401
    assert reply.error["code"] == "missing_token"
    reply = api.post("/api/auth/logout", token="not.a.token")
    assert reply.status == 401
    assert reply.error["code"] == "invalid_token"
    reply = api.post("/api/auth/logout", token=world.stack.config.keys.anon_key)
    assert reply.status == 401
    assert reply.error["code"] == "invalid_token"


def test_auth_unreachable_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Auth down (here: a closed port) is a retryable 503, not a 500."""
    real = get_settings()
    broken = Settings(
        supabase_url="http://127.0.0.1:9",
        supabase_anon_key=real.supabase_anon_key,
        supabase_jwt_secret=real.supabase_jwt_secret,
    )
    auth_client.close()
    monkeypatch.setattr("functions.auth.login.get_settings", lambda: broken)
    try:
        reply = api.post("/api/auth/login", json_body={"email": new_email(), "password": PASSWORD})
    finally:
        auth_client.close()
    assert reply.status == 503
    assert reply.error["code"] == "service_unavailable"
    assert reply.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (("User already registered", 422, "user_already_exists"), 409, "conflict"),
        (
            ("A user with this email address has already been registered", 422, "email_exists"),
            409,
            "conflict",
        ),
        (("Invalid login credentials", 400, "invalid_credentials"), 401, "invalid_credentials"),
        (("User is banned", 400, "user_banned"), 401, "invalid_credentials"),
        (("Email not confirmed", 400, "email_not_confirmed"), 403, "email_not_confirmed"),
        (("Signups not allowed for this instance", 422, "signup_disabled"), 403, "forbidden"),
        (("Request rate limit reached", 429, "over_request_rate_limit"), 429, "rate_limited"),
        (("Session not found", 403, "session_not_found"), 401, "invalid_token"),
        (
            ("Unable to validate email address: invalid format", 400, "validation_failed"),
            422,
            "validation_failed",
        ),
        (("Email address is invalid", 400, "email_address_invalid"), 422, "validation_failed"),
        (("Database error saving new user", 500, "unexpected_failure"), 503, "service_unavailable"),
        (("Something odd", 418, None), 422, "validation_failed"),
    ],
)
def test_auth_errors_map_to_the_api_error_shape(
    error: tuple[str, int, Any], status: int, code: str
) -> None:
    mapped = auth_error(AuthApiError(*error))
    assert (mapped.status, mapped.code) == (status, code)
    if status == 401:
        assert mapped.headers["WWW-Authenticate"] == "Bearer"
    if status == 429:
        assert mapped.headers["Retry-After"] == "60"
    if code == "validation_failed":
        assert mapped.details[0]["field"] in {"email", "password", "body"}


def test_weak_password_and_network_errors_from_auth() -> None:
    weak = auth_error(AuthWeakPasswordError("Password is known to be weak", 422, ["pwned"]))
    assert (weak.status, weak.code) == (422, "validation_failed")
    assert weak.details == [
        {
            "in": "body",
            "field": "password",
            "message": "Password is known to be weak",
            "reasons": ["pwned"],
        }
    ]
    down = auth_error(AuthRetryableError("connection refused", 0))
    assert (down.status, down.code) == (503, "service_unavailable")


def test_an_access_token_of_an_ended_session_is_refused(any_api: Api) -> None:
    """A JWT stays valid until it expires, but the API checks that its session still
    exists: after logout the same access token gets 401 session_ended."""
    session = signup(any_api).json()["session"]
    token = session["access_token"]
    assert any_api.get("/api/auth/me", token=token).status == 200
    assert any_api.post("/api/auth/logout", token=token).status == 204
    reply = any_api.get("/api/auth/me", token=token)
    assert reply.status == 401
    assert reply.error["code"] == "session_ended"
    assert reply.headers["www-authenticate"] == "Bearer"
