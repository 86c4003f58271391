"""Auth conformance: PUT /user and the admin user API (service-role key only).

Expectations come from reference §4 and GoTrue v2.186's internal/api/user.go
(UserUpdate), admin.go (adminUsers, adminUserCreate, adminUserGet, adminUserUpdate,
adminUserDelete), auth.go (requireAdmin) and mail.go (sendEmailChange).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from devstack.postgres import Database
from tests.stacks import Target

Gotrue = Callable[[], SyncGoTrueClient]
PASSWORD = "correct-horse-42"


def _email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def _signed_in(gotrue: Gotrue) -> tuple[SyncGoTrueClient, str]:
    client = gotrue()
    email = _email()
    client.sign_up({"email": email, "password": PASSWORD})
    return client, email


def test_update_user_metadata_merges_and_null_deletes(gotrue: Gotrue) -> None:
    """user.go UserUpdate → UpdateUserMetaData: keys are merged into user_metadata, a
    null value deletes its key; the response is the updated User."""
    client, _ = _signed_in(gotrue)
    client.update_user({"data": {"first_name": "Grace", "theme": "dark"}})
    updated = client.update_user({"data": {"theme": None, "locale": "en"}})
    assert updated.user.user_metadata == {
        "email_verified": True,
        "first_name": "Grace",
        "locale": "en",
    }
    fetched = client.get_user()
    assert fetched is not None
    assert fetched.user.user_metadata == updated.user.user_metadata


def test_update_password_keeps_this_session_and_ends_the_others(
    gotrue: Gotrue, database: Database
) -> None:
    """user.go + User.UpdatePassword: the new password works, the old one is
    invalid_credentials, the same password again is 422 same_password, and every other
    session of the user is logged out (LogoutAllExceptMe)."""
    client, email = _signed_in(gotrue)
    other = gotrue()
    other.sign_in_with_password({"email": email, "password": PASSWORD})
    client.update_user({"password": "brand-new-secret"})
    with pytest.raises(AuthApiError) as caught:
        gotrue().sign_in_with_password({"email": email, "password": PASSWORD})
    assert caught.value.code == "invalid_credentials"
    signed_in = gotrue().sign_in_with_password({"email": email, "password": "brand-new-secret"})
    assert signed_in.user is not None
    with pytest.raises(AuthApiError) as same:
        client.update_user({"password": "brand-new-secret"})
    assert same.value.status == 422
    assert same.value.code == "same_password"
    with psycopg.connect(database.url) as conn:
        count = conn.execute(
            "select count(*) from auth.sessions where user_id = %s", (signed_in.user.id,)
        ).fetchone()
    assert count == (2,)  # the updating session and the sign-in after the change


def test_update_email_is_pending_until_confirmed(gotrue: Gotrue, database: Database) -> None:
    """user.go → mail.go sendEmailChange: a permanent user's new address is not applied
    at once; the User shows it as new_email with email_change_sent_at, the email stays.
    A weak new password is 422 weak_password; an address another user has is 422
    email_exists."""
    client, email = _signed_in(gotrue)
    _, taken = _signed_in(gotrue)
    new_email = _email("new")
    response = client.update_user({"email": new_email.upper()})
    assert response.user.email == email
    assert response.user.new_email == new_email
    assert response.user.email_change_sent_at is not None
    with pytest.raises(AuthApiError) as caught:
        client.update_user({"email": taken})
    assert caught.value.status == 422
    assert caught.value.code == "email_exists"
    with pytest.raises(AuthWeakPasswordError) as weak:
        client.update_user({"password": "x"})
    assert weak.value.code == "weak_password"
    with pytest.raises(AuthApiError) as not_admin:
        client.update_user({"app_metadata": {"plan": "pro"}})  # type: ignore[typeddict-unknown-key]
    assert not_admin.value.status == 403
    assert not_admin.value.code == "not_admin"


def test_admin_create_get_list_update_delete(
    gotrue: Gotrue, gotrue_admin: SyncGoTrueAdminAPI, database: Database
) -> None:
    """admin.go with the service-role key: create (200 User, email identity,
    app_metadata provider email, email_confirm confirms it, the signup trigger runs),
    get by id, list ({users, aud} with X-Total-Count), update (email changed directly,
    user_metadata merged, password set), delete (200 {} and the row is gone)."""
    email = _email("admin")
    created = gotrue_admin.create_user(
        {
            "email": email.upper(),
            "password": PASSWORD,
            "email_confirm": True,
            "user_metadata": {"first_name": "Alan", "business_name": "Turing Ltd"},
            "app_metadata": {"plan": "pro"},
        }
    ).user
    assert created.email == email
    assert created.email_confirmed_at is not None
    assert created.app_metadata == {"plan": "pro", "provider": "email", "providers": ["email"]}
    assert created.user_metadata == {
        "business_name": "Turing Ltd",
        "email_verified": True,
        "first_name": "Alan",
    }
    assert created.identities is not None
    assert [i.provider for i in created.identities] == ["email"]
    with psycopg.connect(database.url) as conn:
        org = conn.execute(
            "select o.name from public.organizations o where o.created_by = %s and o.personal",
            (created.id,),
        ).fetchone()
    assert org == ("Turing Ltd",)

    fetched = gotrue_admin.get_user_by_id(created.id).user
    assert fetched.id == created.id
    listed = gotrue_admin.list_users(page=1, per_page=1000)
    assert created.id in {u.id for u in listed}

    renamed = _email("renamed")
    updated = gotrue_admin.update_user_by_id(
        created.id,
        {"email": renamed, "user_metadata": {"first_name": "A."}, "password": "another-secret"},
    ).user
    assert updated.email == renamed
    assert updated.user_metadata["first_name"] == "A."
    signed_in = gotrue().sign_in_with_password({"email": renamed, "password": "another-secret"})
    assert signed_in.user is not None
    assert signed_in.user.id == created.id

    gotrue_admin.delete_user(created.id)
    with pytest.raises(AuthApiError) as caught:
        gotrue_admin.get_user_by_id(created.id)
    assert caught.value.status == 404
    assert caught.value.code == "user_not_found"
    with psycopg.connect(database.url) as conn:
        gone = conn.execute(
            "select count(*) from auth.users where id = %s", (created.id,)
        ).fetchone()
        profile = conn.execute(
            "select count(*) from public.profiles where id = %s", (created.id,)
        ).fetchone()
    assert gone == (0,)
    assert profile == (0,)


def test_admin_list_users_paginates_with_headers(
    auth_stack: Target, gotrue_admin: SyncGoTrueAdminAPI
) -> None:
    """admin.go adminUsers + pagination.go: {"users": [...], "aud": "authenticated"},
    X-Total-Count and a Link header with rel="next"/"last"."""
    for _ in range(2):
        gotrue_admin.create_user({"email": _email("page"), "password": PASSWORD})
    key = auth_stack.config.keys.service_role_key
    reply = httpx.get(
        auth_stack.url + "/auth/v1/admin/users?page=1&per_page=1",
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["aud"] == "authenticated"
    assert len(body["users"]) == 1
    total = int(reply.headers["x-total-count"])
    assert total >= 2
    assert reply.headers["link"] == (
        '</admin/users?page=2&per_page=1>; rel="next", '
        f'</admin/users?page={total}&per_page=1>; rel="last"'
    )


def test_admin_create_duplicate_email_is_email_exists(gotrue_admin: SyncGoTrueAdminAPI) -> None:
    """admin.go adminUserCreate: an address already registered is 422 email_exists."""
    email = _email("dup")
    gotrue_admin.create_user({"email": email, "password": PASSWORD})
    with pytest.raises(AuthApiError) as caught:
        gotrue_admin.create_user({"email": email, "password": PASSWORD})
    assert caught.value.status == 422
    assert caught.value.code == "email_exists"


def test_admin_endpoints_refuse_non_admin_tokens(gotrue: Gotrue, auth_stack: Target) -> None:
    """auth.go requireAdmin: the anon key or a user's JWT is 403 not_admin "User not
    allowed"; the admin API also answers 404 user_not_found for an unknown id."""
    anon = auth_stack.config.keys.anon_key
    client, _ = _signed_in(gotrue)
    session = client.get_session()
    assert session is not None
    for token in (anon, session.access_token):
        admin = SyncGoTrueAdminAPI(
            url=auth_stack.url + "/auth/v1",
            headers={"apikey": anon, "Authorization": f"Bearer {token}"},
        )
        with admin, pytest.raises(AuthApiError) as caught:
            admin.list_users()
        assert caught.value.status == 403
        assert caught.value.code == "not_admin"
        assert caught.value.message == "User not allowed"
    key = auth_stack.config.keys.service_role_key
    with (
        SyncGoTrueAdminAPI(
            url=auth_stack.url + "/auth/v1",
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
        ) as admin,
        pytest.raises(AuthApiError) as missing,
    ):
        admin.get_user_by_id(str(uuid.uuid4()))
    assert missing.value.status == 404
    assert missing.value.code == "user_not_found"
