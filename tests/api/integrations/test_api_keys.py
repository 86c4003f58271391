"""API keys (docs/integrations.md): created by admins with scopes, shown once, stored
hashed, listed with last_used_at, revocable at once; a request with a key acts as the
key's own account, a member (or viewer) of the organization under RLS, never the service
role, audited as the key; scopes enforced per area and access."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.api.conftest import Api, World
from tests.api.integrations.conftest import unique

pytestmark = pytest.mark.usefixtures("aws")


def new_key(api: Api, scopes: list[str], *, as_: str = "alice") -> dict[str, Any]:
    reply = api.post("/api/api-keys", as_=as_, json_body={"name": unique("Key"), "scopes": scopes})
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def with_key(api: Api, method: str, path: str, key: str, **kwargs: Any) -> Any:
    return api.request(method, path, token=key, **kwargs)


def test_a_key_is_shown_once_and_stored_hashed(api: Api, world: World) -> None:
    key = new_key(api, ["read"])
    assert key["key"].startswith("ifk_")
    assert key["prefix"] == key["key"][:12]
    assert key["role"] == "viewer"
    listed = api.get("/api/api-keys", as_="alice").json()["data"]
    mine = next(k for k in listed if k["id"] == key["id"])
    assert "key" not in mine
    assert "key_hash" not in mine
    assert mine["last_used_at"] is None
    stored = world.sql("select key_hash from public.api_keys where id = %s", key["id"])[0][0]
    assert stored == hashlib.sha256(key["key"].encode()).hexdigest()
    assert key["key"] not in str(
        world.sql("select new_record from public.audit_log where record_id = %s", key["id"])
    )
    # Its account has no personal organization, and one membership: the key's.
    roles = world.sql(
        "select organization_id::text, role::text from public.memberships where user_id = %s",
        key["id"],
    )
    assert roles == [(world.org_a, "viewer")]


def test_a_read_key_reads_and_may_not_write(api: Api, world: World) -> None:
    key = new_key(api, ["read"])["key"]
    listed = with_key(api, "GET", "/api/clients", key)
    assert listed.status == 200, listed.json()
    refused = with_key(
        api, "POST", "/api/clients", key, json_body={"company_name": "No", "currency": "USD"}
    )
    assert refused.status == 403, refused.json()
    used = world.sql(
        "select last_used_at from public.api_keys where key_hash = %s",
        hashlib.sha256(key.encode()).hexdigest(),
    )
    assert used[0][0] is not None


def test_a_write_key_writes_as_itself_under_rls(api: Api, world: World) -> None:
    created = new_key(api, ["clients:write"])
    assert created["role"] == "member"
    name = unique("By key")
    reply = with_key(
        api,
        "POST",
        "/api/clients",
        created["key"],
        json_body={"company_name": name, "currency": "USD"},
    )
    assert reply.status == 201, reply.json()
    client_id = reply.json()["id"]
    # Audited as the key's account, in organization A (RLS decided, not the service role).
    actors = world.sql(
        "select changed_by::text, changed_by_role from public.audit_log"
        " where table_name = 'public.clients' and record_id = %s and operation = 'INSERT'",
        client_id,
    )
    assert actors == [(created["id"], "authenticated")]
    assert world.sql("select created_by::text from public.clients where id = %s", client_id) == [
        (created["id"],)
    ]
    # Its scopes name clients only: invoices, payments and reports are refused.
    assert with_key(api, "GET", "/api/invoices", created["key"]).status == 403
    assert with_key(api, "GET", "/api/dashboard/metrics", created["key"]).status == 403
    # Another organization's data: not the key's (X-Organization-Id of B is refused).
    other = with_key(api, "GET", "/api/clients", created["key"], org=world.org_b)
    assert other.status == 403


def test_keys_cannot_manage_integrations_or_settings(api: Api) -> None:
    key = new_key(api, ["write"])["key"]
    for method, path in (
        ("GET", "/api/api-keys"),
        ("POST", "/api/api-keys"),
        ("GET", "/api/webhook-endpoints"),
        ("GET", "/api/settings/business"),
    ):
        reply = with_key(api, method, path, key, json_body={} if method == "POST" else None)
        assert reply.status == 403, (path, reply.json())


def test_a_revoked_key_is_refused_at_once(api: Api, world: World) -> None:
    created = new_key(api, ["read"])
    assert with_key(api, "GET", "/api/clients", created["key"]).status == 200
    revoked = api.post(f"/api/api-keys/{created['id']}/revoke", as_="alice")
    assert revoked.status == 200, revoked.json()
    assert revoked.json()["revoked_at"] is not None
    reply = with_key(api, "GET", "/api/clients", created["key"])
    assert reply.status == 401
    assert reply.error["code"] == "invalid_api_key"
    assert world.sql(
        "select count(*) from public.memberships where user_id = %s", created["id"]
    ) == [(0,)]
    live = api.get("/api/api-keys", as_="alice", query={"revoked": "false"}).json()["data"]
    assert created["id"] not in [k["id"] for k in live]


def test_forged_and_malformed_keys_are_401(api: Api) -> None:
    real = new_key(api, ["read"])["key"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for key in (forged, "ifk_nothing", "ifk_" + "0" * 32 + "_" + "A" * 32):
        reply = with_key(api, "GET", "/api/clients", key)
        assert reply.status == 401, (key, reply.json())


def test_only_admins_manage_keys(api: Api, world: World) -> None:
    key = new_key(api, ["read"])
    for who in ("maria", "victor"):
        reply = api.post("/api/api-keys", as_=who, json_body={"name": "x", "scopes": ["read"]})
        assert reply.status == 403
        assert api.get("/api/api-keys", as_=who).status == 403
        assert api.post(f"/api/api-keys/{key['id']}/revoke", as_=who).status == 403
    assert api.post(f"/api/api-keys/{key['id']}/revoke", as_="bob").status == 404
    assert with_key(api, "GET", "/api/clients", key["key"]).status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "k", "scopes": []}, "scopes"),
        ({"name": "k", "scopes": ["admin"]}, "scopes[0]"),
        ({"name": "k", "scopes": ["invoices:delete"]}, "scopes[0]"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "k", "scopes": ["read"], "role": "owner"}, "role"),
        ({"scopes": ["read"]}, "name"),
    ],
)
def test_bad_keys_are_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    reply = api.post("/api/api-keys", as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    assert field in [d["field"] for d in reply.error["details"]], reply.json()


def test_over_http_a_key_reads_and_the_integrations_answer(http_api: Api, world: World) -> None:
    """Through the API Gateway emulator: the area function's routes and a key's bearer."""
    created = http_api.post(
        "/api/api-keys",
        as_="alice",
        json_body={"name": unique("Http"), "scopes": ["invoices:read"]},
    )
    assert created.status == 201, created.json()
    assert created.headers["cache-control"] == "no-store"
    key = created.json()["key"]
    assert http_api.get("/api/invoices", token=key).status == 200
    assert http_api.get("/api/clients", token=key).status == 403
    listed = http_api.get("/api/api-keys", as_="alice")
    assert listed.status == 200
    assert created.json()["id"] in [k["id"] for k in listed.json()["data"]]
    assert http_api.get("/api/webhook-endpoints", as_="alice").status == 200
