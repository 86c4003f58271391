"""GET /api/auth/me, and the token checks every route shares (through this one)."""

from __future__ import annotations

from tests.api.conftest import Api, World


def test_me_lists_profile_and_organizations(any_api: Api, world: World) -> None:
    reply = any_api.get("/api/auth/me", as_="victor")
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["user"]["id"] == world.people["victor"].id
    assert body["user"]["email"] == world.people["victor"].email
    roles = {org["id"]: org["role"] for org in body["organizations"]}
    assert roles == {world.people["victor"].personal_org: "owner", world.org_a: "viewer"}
    assert reply.headers["x-request-id"]


def test_me_without_token_is_401(any_api: Api) -> None:
    reply = any_api.get("/api/auth/me")
    assert reply.status == 401
    assert reply.error["code"] == "missing_token"
    assert reply.headers["www-authenticate"] == "Bearer"
