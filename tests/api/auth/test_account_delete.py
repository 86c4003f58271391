"""DELETE /api/auth/account: a user deletes their own account; the last owner of an
organization with other members gets a clear 409 naming it (not Auth's 500), an
account with MFA needs aal2; and Auth's own admin path answers its generic 500, as the
platform does (docs/teams.md). The database side: pgTAP 951."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.auth.test_auth import PASSWORD
from tests.api.auth.test_mfa import enroll_and_verify, login, signed_up
from tests.api.conftest import Api, World


def _with_a_colleague(api: Api, world: World, token: str) -> dict[str, Any]:
    """An organization the caller owns, with another member (a fresh user)."""
    created = api.post("/api/organizations", token=token, json_body={"name": "Shared Books"})
    assert created.status == 201, created.json()
    colleague = signed_up(api)
    world.sql(
        "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'member')",
        created.json()["id"],
        colleague["user"]["id"],
    )
    organization: dict[str, Any] = created.json()
    return organization


def _exists(world: World, user_id: str) -> bool:
    return bool(world.sql("select 1 from auth.users where id = %s", user_id))


def test_a_user_deletes_their_account(any_api: Api, world: World) -> None:
    account = signed_up(any_api)
    token = account["session"]["access_token"]
    reply = any_api.delete("/api/auth/account", token=token)
    assert reply.status == 204, reply.content
    assert not _exists(world, account["user"]["id"])
    assert not world.sql("select 1 from public.profiles where id = %s", account["user"]["id"])
    again = any_api.post(
        "/api/auth/login", json_body={"email": account["email"], "password": PASSWORD}
    )
    assert again.status == 401
    assert again.json()["error"]["code"] == "invalid_credentials"
    # The token of the deleted user's session: its session ended with it.
    gone = any_api.delete("/api/auth/account", token=token)
    assert (gone.status, gone.json()["error"]["code"]) == (401, "session_ended")


def test_the_last_owner_is_told_which_organizations_to_hand_over(api: Api, world: World) -> None:
    account = signed_up(api)
    token = account["session"]["access_token"]
    organization = _with_a_colleague(api, world, token)
    reply = api.delete("/api/auth/account", token=token)
    assert reply.status == 409, reply.content
    error = reply.json()["error"]
    assert error["code"] == "last_owner"
    assert '"Shared Books"' in error["message"]
    assert "transfer-ownership" in error["message"]
    assert error["details"] == {
        "organizations": [{"id": organization["id"], "name": "Shared Books"}]
    }
    assert _exists(world, account["user"]["id"])
    # Once another member owns it too, the account goes.
    world.sql(
        "update public.memberships set role = 'owner' where organization_id = %s and user_id <> %s",
        organization["id"],
        account["user"]["id"],
    )
    assert api.delete("/api/auth/account", token=token).status == 204
    assert not _exists(world, account["user"]["id"])
    assert world.sql("select 1 from public.organizations where id = %s", organization["id"])


def test_auths_admin_path_answers_its_generic_500(api: Api, world: World) -> None:
    """What Supabase Auth does when a trigger refuses: "Database error deleting user"
    (500). Our API's route is the clear refusal; this path stays the platform's."""
    account = signed_up(api)
    _with_a_colleague(api, world, account["session"]["access_token"])
    keys = world.stack.config.keys
    reply = httpx.delete(
        f"{world.stack.url}/auth/v1/admin/users/{account['user']['id']}",
        headers={
            "apikey": keys.service_role_key,
            "authorization": f"Bearer {keys.service_role_key}",
        },
        timeout=10,
    )
    assert reply.status_code == 500, reply.text
    assert _exists(world, account["user"]["id"])


def test_an_account_with_mfa_needs_aal2(api: Api, world: World) -> None:
    account = signed_up(api)
    _, _, aal2 = enroll_and_verify(api, account["session"]["access_token"])
    aal1 = login(api, account["email"])
    refused = api.delete("/api/auth/account", token=aal1)
    assert refused.status == 403, refused.content
    assert refused.json()["error"]["code"] == "mfa_required"
    assert _exists(world, account["user"]["id"])
    assert api.delete("/api/auth/account", token=aal2).status == 204
    assert not _exists(world, account["user"]["id"])


def test_without_a_token(api: Api) -> None:
    reply = api.delete("/api/auth/account")
    assert (reply.status, reply.json()["error"]["code"]) == (401, "missing_token")
