"""Row-level security through the wire: two users in two organizations (reference §5;
the project's policies in supabase/migrations)."""

from __future__ import annotations

import uuid

import pytest
from postgrest.exceptions import APIError

from tests.devstack.conftest import RestWorld


def test_each_user_sees_only_their_organization(rest: RestWorld) -> None:
    """USING policies filter silently: each user's GET returns only their own rows."""
    alice, bob = rest.users["alice"], rest.users["bob"]
    with rest.client(rest.token("alice")) as client:
        seen = {r["id"] for r in client.table("clients").select("id").execute().data}
        orgs = {r["id"] for r in client.table("organizations").select("id").execute().data}
    assert alice["client"] in seen
    assert bob["client"] not in seen
    assert alice["org"] in orgs
    assert bob["org"] not in orgs
    with rest.client(rest.token("bob")) as client:
        seen = {r["id"] for r in client.table("clients").select("id").execute().data}
    assert bob["client"] in seen
    assert alice["client"] not in seen


def test_hidden_rows_are_empty_not_errors(rest: RestWorld) -> None:
    """§5.2: hidden rows → `[]`; `.single()` → 406 "The result contains 0 rows"."""
    bob = rest.users["bob"]
    with rest.client(rest.token("alice")) as client:
        assert client.table("clients").select("id").eq("id", bob["client"]).execute().data == []
        with pytest.raises(APIError) as exc:
            client.table("clients").select("id").eq("id", bob["client"]).single().execute()
    assert exc.value.code == "PGRST116"
    assert exc.value.details == "The result contains 0 rows"


def test_updates_and_deletes_of_other_tenants_change_nothing(rest: RestWorld) -> None:
    """§5.2: PATCH/DELETE on rows the policies hide change 0 rows: 200 `[]` with
    representation, 204 without."""
    bob = rest.users["bob"]
    with rest.client(rest.token("alice")) as client:
        updated = (
            client.table("clients").update({"notes": "hacked"}).eq("id", bob["client"]).execute()
        )
        deleted = client.table("clients").delete().eq("id", bob["client"]).execute()
    assert updated.data == []
    assert deleted.data == []
    with rest.http(rest.token("alice")) as http:
        r = http.patch(f"/clients?id=eq.{bob['client']}", json={"notes": "hacked"})
    assert r.status_code == 204
    assert rest.sql("select notes from public.clients where id = %s", bob["client"]) == [(None,)]


def test_insert_into_other_organization_is_403(rest: RestWorld) -> None:
    """A WITH CHECK violation → 403 42501 for a signed-in user."""
    bob = rest.users["bob"]
    with rest.http(rest.token("alice")) as http:
        r = http.post(
            "/clients",
            json={"organization_id": bob["org"], "company_name": "Intruder", "currency": "USD"},
        )
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "42501"
    assert body["message"] == 'new row violates row-level security policy for table "clients"'
    assert "www-authenticate" not in r.headers


def test_anon_permission_denied_is_401(rest: RestWorld) -> None:
    """§5.3: 42501 for the anon role → 401 with `WWW-Authenticate: Bearer`."""
    with rest.http() as http:
        r = http.get("/clients")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["message"] == "permission denied for table clients"


def test_insert_returning_must_pass_the_select_policy(rest: RestWorld) -> None:
    """§5.1: with `return=representation` the new row must pass the SELECT policy too
    (INSERT ... RETURNING), else 42501; with `return=minimal` the same insert succeeds."""
    other = rest.users["bob"]["id"]
    with rest.http(rest.token("alice")) as http:
        rep = http.post(
            "/conformance_notes",
            json={"owner": other, "body": "for bob"},
            headers={"Prefer": "return=representation"},
        )
        minimal = http.post(
            "/conformance_notes",
            json={"owner": other, "body": "for bob"},
            headers={"Prefer": "return=minimal"},
        )
        own = http.post(
            "/conformance_notes",
            json={"body": "mine"},
            headers={"Prefer": "return=representation"},
        )
    assert rep.status_code == 403
    assert rep.json()["code"] == "42501"
    assert minimal.status_code == 201
    assert own.status_code == 201
    assert own.json()[0]["owner"] == rest.users["alice"]["id"]


def test_own_writes_work_and_triggers_run_as_the_user(rest: RestWorld) -> None:
    """A member inserts into their own organization; `created_by` defaults to auth.uid()."""
    alice = rest.users["alice"]
    name = f"Client {uuid.uuid4().hex[:6]}"
    with rest.client(rest.token("alice")) as client:
        res = (
            client.table("clients")
            .insert({"organization_id": alice["org"], "company_name": name, "currency": "EUR"})
            .execute()
        )
    assert res.data[0]["created_by"] == alice["id"]
    assert res.data[0]["company_name"] == name


def test_invoice_cannot_point_at_another_tenants_client(rest: RestWorld) -> None:
    """The composite FK/trigger rejects a cross-tenant client with 23503 → 409."""
    alice, bob = rest.users["alice"], rest.users["bob"]
    with rest.http(rest.token("alice")) as http:
        r = http.post(
            "/invoices",
            json={"organization_id": alice["org"], "client_id": bob["client"]},
        )
    assert r.status_code == 409
    assert r.json()["code"] == "23503"


def test_column_grants_are_enforced(rest: RestWorld) -> None:
    """Column-level grants: `total_billed` is not updatable by users → 403 42501."""
    alice = rest.users["alice"]
    with rest.http(rest.token("alice")) as http:
        r = http.patch(f"/clients?id=eq.{alice['client']}", json={"total_billed": 1})
    assert r.status_code == 403
    assert r.json()["code"] == "42501"
