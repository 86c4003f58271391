"""An organization that requires MFA, through the API and through PostgREST directly:
only an owner at aal2 turns it on; a colleague below aal2 is refused with
403 mfa_required (the API) and sees nothing (PostgREST, the restrictive policies) until
they enroll TOTP and verify a code; their own organization, the service role and aal2
sessions are unaffected."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.functions import FunctionSpec, http_routes
from tests.api.auth.test_mfa import enroll_and_verify, login, signed_up
from tests.api.conftest import Api, World


def rest(world: World, token: str, path: str) -> httpx.Response:
    return httpx.get(
        f"{world.stack.url}/rest/v1/{path}",
        headers={"apikey": world.stack.config.keys.anon_key, "authorization": f"Bearer {token}"},
        timeout=10,
    )


@pytest.fixture(scope="module")
def team(api: Api, world: World) -> dict[str, Any]:
    """An owner (with a verified factor) and a member of the owner's organization."""
    owner = signed_up(api)
    org = owner["organization"]["id"]
    _, owner_secret, owner_aal2 = enroll_and_verify(api, owner["session"]["access_token"])
    colleague = signed_up(api)
    admin = signed_up(api)
    world.sql(
        "insert into public.memberships (organization_id, user_id, role) values"
        " (%s, %s, 'member'), (%s, %s, 'admin')",
        org,
        colleague["user"]["id"],
        org,
        admin["user"]["id"],
    )
    client = api.post(
        "/api/clients",
        token=owner["session"]["access_token"],
        org=org,
        json_body={"company_name": "Needs MFA Ltd", "email": "mfa-client@example.com"},
    )
    assert client.status == 201, client.json()
    return {
        "org": org,
        "owner": owner,
        "owner_aal2": owner_aal2,
        "owner_secret": owner_secret,
        "colleague": colleague,
        "admin": admin,
    }


def test_only_an_owner_at_aal2_turns_it_on_and_members_need_aal2(
    api: Api, world: World, team: dict[str, Any]
) -> None:
    org = team["org"]
    owner_aal1 = team["owner"]["session"]["access_token"]
    colleague = team["colleague"]["session"]["access_token"]
    body = {"require_mfa": True}

    refused = api.put("/api/settings/business", token=owner_aal1, org=org, json_body=body)
    assert refused.status == 403, refused.json()
    assert refused.json()["error"]["code"] == "mfa_required"
    assert "aal2" in refused.json()["error"]["message"]

    _, _, admin_aal2 = enroll_and_verify(api, team["admin"]["session"]["access_token"])
    refused = api.put("/api/settings/business", token=admin_aal2, org=org, json_body=body)
    assert refused.status == 403, refused.json()
    assert refused.json()["error"]["code"] == "forbidden"

    bad = api.put(
        "/api/settings/business",
        token=team["owner_aal2"],
        org=org,
        json_body={"require_mfa": "yes"},
    )
    assert bad.status == 422, bad.json()
    assert (
        api.put(
            "/api/settings/business",
            token=team["owner_aal2"],
            org=org,
            json_body={"require_mfa": None},
        ).status
        == 422
    )

    on = api.put("/api/settings/business", token=team["owner_aal2"], org=org, json_body=body)
    assert on.status == 200, on.json()
    assert on.json()["require_mfa"] is True

    try:
        # The colleague below aal2: refused by the API, and nothing through PostgREST.
        denied = api.get("/api/clients", token=colleague, org=org)
        assert denied.status == 403, denied.json()
        error = denied.json()["error"]
        assert error["code"] == "mfa_required"
        assert "/api/auth/mfa/enroll" in error["message"]
        assert (
            api.post(
                "/api/clients", token=colleague, org=org, json_body={"company_name": "x"}
            ).json()["error"]["code"]
            == "mfa_required"
        )
        assert rest(world, colleague, f"clients?organization_id=eq.{org}").json() == []
        assert rest(world, colleague, f"invoices?organization_id=eq.{org}").json() == []
        # The owner below aal2 too.
        assert api.get("/api/clients", token=owner_aal1, org=org).status == 403
        # /api/auth/me says which organization requires it.
        me = api.get("/api/auth/me", token=colleague).json()
        assert {o["id"]: o["require_mfa"] for o in me["organizations"]}[org] is True
        # The colleague's own organization is unaffected.
        personal = team["colleague"]["organization"]["id"]
        assert api.get("/api/clients", token=colleague, org=personal).status == 200
        # The service role (jobs, webhooks) is unaffected.
        service = world.stack.config.keys.service_role_key
        assert len(rest(world, service, f"clients?organization_id=eq.{org}").json()) == 1

        # Enrolling and verifying a code: the aal2 token reads and writes.
        _, _, colleague_aal2 = enroll_and_verify(api, colleague)
        listed = api.get("/api/clients", token=colleague_aal2, org=org)
        assert listed.status == 200, listed.json()
        assert [c["company_name"] for c in listed.json()["data"]] == ["Needs MFA Ltd"]
        assert len(rest(world, colleague_aal2, f"clients?organization_id=eq.{org}").json()) == 1
        # A new sign-in is aal1 again until a code is verified.
        again = login(api, team["colleague"]["email"])
        assert api.get("/api/clients", token=again, org=org).status == 403
    finally:
        off = api.put(
            "/api/settings/business",
            token=team["owner_aal2"],
            org=org,
            json_body={"require_mfa": False},
        )
        assert off.status == 200, off.json()
    assert api.get("/api/clients", token=colleague, org=org).status == 200


def test_a_member_cannot_change_it(api: Api, team: dict[str, Any]) -> None:
    org = team["org"]
    member = api.put(
        "/api/settings/business",
        token=team["colleague"]["session"]["access_token"],
        org=org,
        json_body={"require_mfa": True},
    )
    assert member.status == 403, member.json()
    assert member.json()["error"]["code"] == "forbidden"


def test_an_api_key_made_below_aal2_cannot_act_in_it(
    api: Api, world: World, team: dict[str, Any]
) -> None:
    """A key made at aal1 mints aal1 tokens: refused with the API keys' message once the
    organization requires MFA (a key made at aal2 acts at aal2: tests/api/integrations)."""
    org = team["org"]
    made = api.post(
        "/api/api-keys",
        token=team["owner"]["session"]["access_token"],
        org=org,
        json_body={"name": "books sync", "scopes": ["read"]},
    )
    assert made.status == 201, made.json()
    key = made.json()["key"]
    assert api.get("/api/clients", token=key).status == 200
    on = api.put(
        "/api/settings/business",
        token=team["owner_aal2"],
        org=org,
        json_body={"require_mfa": True},
    )
    assert on.status == 200, on.json()
    try:
        refused = api.get("/api/clients", token=key)
        assert refused.status == 403, refused.json()
        assert refused.json()["error"]["code"] == "mfa_required"
        assert "API key" in refused.json()["error"]["message"]
    finally:
        api.put(
            "/api/settings/business",
            token=team["owner_aal2"],
            org=org,
            json_body={"require_mfa": False},
        )
    assert api.get("/api/clients", token=key).status == 200


# Every route that acts in an organization, as its owner below aal2 when it requires
# MFA: 403 mfa_required, whatever the route (the security matrix's missing row).
_OWN = ("/api/auth/", "/api/settings/profile", "/api/settings/notifications", "/p/")
_ORG_ROUTES = [
    s
    for s in http_routes()
    if s.path
    and not s.path.startswith(_OWN)
    and not s.path.startswith("/api/webhooks/stripe/")
    and (s.method, s.path)
    not in {
        ("POST", "/api/organizations"),
        ("GET", "/api/organizations"),
        ("POST", "/api/invitations/accept"),
        ("GET", "/api/invitations/{token}"),
        ("GET", "/api/openapi.json"),
    }
]


@pytest.fixture(scope="module")
def required(api: Api, team: dict[str, Any]) -> Iterator[dict[str, Any]]:
    on = api.put(
        "/api/settings/business",
        token=team["owner_aal2"],
        org=team["org"],
        json_body={"require_mfa": True},
    )
    assert on.status == 200, on.json()
    yield team
    api.put(
        "/api/settings/business",
        token=team["owner_aal2"],
        org=team["org"],
        json_body={"require_mfa": False},
    )


@pytest.mark.parametrize("spec", _ORG_ROUTES, ids=[f"{s.method} {s.path}" for s in _ORG_ROUTES])
def test_every_organization_route_needs_aal2(
    api: Api, required: dict[str, Any], spec: FunctionSpec
) -> None:
    org = required["org"]
    path = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), spec.path or "").replace(
        "/api/organizations/" + str(uuid.UUID(int=0)), f"/api/organizations/{org}"
    )
    path = re.sub(r"^/api/organizations/[0-9a-f-]{36}", f"/api/organizations/{org}", path)
    body: dict[str, Any] | None = {} if spec.method in ("POST", "PUT", "PATCH") else None
    reply = api.request(
        spec.method or "GET",
        path,
        token=required["owner"]["session"]["access_token"],
        org=org,
        json_body=body,
    )
    assert reply.status == 403, (path, reply.content[:300])
    assert reply.json()["error"]["code"] == "mfa_required", path
