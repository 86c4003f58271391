"""Organizations and members through the teams routes (docs/teams.md): my organizations
with my role, create, rename, delete or close, the members list, role changes by the rules
(admins manage viewers and members, owners everyone, nobody raises their own role, the last
owner stays), remove, leave, transfer of ownership, the refusal to delete the last owner
from Auth, and every change in the audit log with who made it."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Api, Person, World


def person(world: World, prefix: str, org: str | None = None, role: str | None = None) -> Person:
    return world.add_person(f"{prefix}-{uuid.uuid4().hex[:8]}", org, role)


def team(world: World) -> dict[str, Person]:
    """A fresh organization (its owner's personal one) with an admin, a member and a viewer."""
    owner = person(world, "owner")
    org = owner.personal_org
    return {
        "owner": owner,
        "admin": person(world, "admin", org, "admin"),
        "member": person(world, "member", org, "member"),
        "viewer": person(world, "viewer", org, "viewer"),
    }


def role_of(world: World, org: str, user: Person) -> str | None:
    rows = world.sql(
        "select role::text from public.memberships where organization_id = %s and user_id = %s",
        org,
        user.id,
    )
    return rows[0][0] if rows else None


def patch(api: Api, path: str, as_: str, body: dict[str, Any]) -> Any:
    return api.request("PATCH", path, as_=as_, json_body=body)


def test_my_organizations_list_each_with_my_role(any_api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    reply = any_api.get("/api/organizations", as_=t["admin"].name)
    assert reply.status == 200, reply.json()
    roles = {o["id"]: (o["role"], o["personal"]) for o in reply.json()["data"]}
    assert roles[org] == ("admin", True)  # the owner's personal one
    assert roles[t["admin"].personal_org] == ("owner", True)
    assert len(roles) == 2


def test_create_and_rename_an_organization(api: Api, world: World) -> None:
    t = team(world)
    created = api.post("/api/organizations", as_=t["member"].name, json_body={"name": " Side Co "})
    assert created.status == 201, created.json()
    body = created.json()
    assert body["name"] == "Side Co"
    assert body["role"] == "owner"
    assert created.headers["location"] == f"/api/organizations/{body['id']}"
    assert role_of(world, body["id"], t["member"]) == "owner"

    org = t["owner"].personal_org
    renamed = patch(api, f"/api/organizations/{org}", t["admin"].name, {"name": "Renamed Co"})
    assert renamed.status == 200, renamed.json()
    assert renamed.json()["name"] == "Renamed Co"
    refused = patch(api, f"/api/organizations/{org}", t["member"].name, {"name": "Mine now"})
    assert refused.status == 403
    bad = patch(api, f"/api/organizations/{org}", t["admin"].name, {"name": ""})
    assert bad.status == 422
    assert bad.error["details"][0]["field"] == "name"
    unknown = patch(api, f"/api/organizations/{org}", t["admin"].name, {"title": "x"})
    assert unknown.status == 422
    stranger = patch(api, f"/api/organizations/{org}", "bob", {"name": "Taken"})
    assert stranger.status == 404
    assert world.sql("select name from public.organizations where id = %s", org) == [
        ("Renamed Co",)
    ]
    # Who renamed it is in the audit log.
    entries = world.sql(
        "select changed_by::text, new_record ->> 'name' from public.audit_log"
        " where table_name = 'public.organizations' and record_id = %s and operation = 'UPDATE'",
        org,
    )
    assert entries == [(t["admin"].id, "Renamed Co")]


def test_an_organization_without_records_is_deleted(api: Api, world: World) -> None:
    t = team(world)
    org = api.post("/api/organizations", as_=t["owner"].name, json_body={"name": "Short-lived"})
    org_id = org.json()["id"]
    assert api.delete(f"/api/organizations/{org_id}", as_=t["owner"].name).json() == {
        "id": org_id,
        "closed": False,
    }
    assert world.sql("select 1 from public.organizations where id = %s", org_id) == []
    assert world.sql(
        "select operation from public.audit_log where table_name = 'public.organizations'"
        " and record_id = %s order by id",
        org_id,
    ) == [("INSERT",), ("DELETE",)]


def test_an_organization_with_records_is_closed_read_only_and_hidden(
    api: Api, world: World
) -> None:
    t = team(world)
    org = t["owner"].personal_org
    client = api.post(
        "/api/clients",
        as_=t["member"].name,
        org=org,
        json_body={"company_name": "Kept Co", "currency": "USD"},
    )
    assert client.status == 201, client.json()
    invoice = world.sql(
        "insert into public.invoices (organization_id, client_id, currency, due_date)"
        " values (%s, %s, 'USD', current_date + 30) returning id::text",
        org,
        client.json()["id"],
    )[0][0]
    assert api.delete(f"/api/organizations/{org}", as_=t["admin"].name).status == 403
    reply = api.delete(f"/api/organizations/{org}", as_=t["owner"].name)
    assert reply.status == 200, reply.json()
    assert reply.json() == {"id": org, "closed": True}
    # Kept, with its records, closed by the owner.
    assert world.sql(
        "select closed_by::text, (select count(*) from public.invoices where id = %s)"
        " from public.organizations where id = %s",
        invoice,
        org,
    ) == [(t["owner"].id, 1)]
    # Hidden from the list and from every route.
    listed = api.get("/api/organizations", as_=t["member"].name).json()["data"]
    assert org not in [o["id"] for o in listed]
    assert api.get(f"/api/organizations/{org}/members", as_=t["owner"].name).status == 404
    assert api.get("/api/clients", as_=t["member"].name, org=org).status == 403
    # Read-only even past the API: a member's write through PostgREST's rules is refused.
    with psycopg.connect(world.database.url) as conn:
        conn.execute("select tests.authenticate_as(%s)", (t["member"].name + "-" + world.tag,))
        changed = conn.execute(
            "update public.clients set notes = 'after closing' where organization_id = %s", (org,)
        ).rowcount
        assert changed == 0
        readable = conn.execute(
            "select count(*) from public.invoices where organization_id = %s", (org,)
        ).fetchone()
        assert readable == (1,)


def test_members_list_with_roles(any_api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    reply = any_api.get(f"/api/organizations/{org}/members", as_=t["viewer"].name)
    assert reply.status == 200, reply.json()
    members = [(m["user_id"], m["role"], m["email"]) for m in reply.json()["data"]]
    assert members == [(t[r].id, r, t[r].email) for r in ("owner", "admin", "member", "viewer")]
    assert any_api.get(f"/api/organizations/{org}/members", as_="bob").status == 404


def test_role_changes_follow_the_rules(api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    path = f"/api/organizations/{org}/members"

    # Admins manage viewers and members, up to admin.
    reply = patch(api, f"{path}/{t['viewer'].id}", t["admin"].name, {"role": "member"})
    assert reply.status == 200, reply.json()
    assert reply.json()["role"] == "member"
    assert role_of(world, org, t["viewer"]) == "member"
    reply = patch(api, f"{path}/{t['viewer'].id}", t["admin"].name, {"role": "owner"})
    assert reply.status == 403, reply.json()
    assert "only owners make owners" in reply.error["message"]
    second_admin = person(world, "admin2", org, "admin")
    reply = patch(api, f"{path}/{second_admin.id}", t["admin"].name, {"role": "viewer"})
    assert reply.status == 403
    assert "only owners" in reply.error["message"]
    reply = patch(api, f"{path}/{t['owner'].id}", t["admin"].name, {"role": "viewer"})
    assert reply.status == 403
    # Members change nobody's role; nobody raises their own.
    assert (
        patch(api, f"{path}/{t['viewer'].id}", t["member"].name, {"role": "viewer"}).status == 403
    )
    reply = patch(api, f"{path}/{t['admin'].id}", t["admin"].name, {"role": "owner"})
    assert reply.status == 403
    # Owners change anyone's, but the last owner stays.
    reply = patch(api, f"{path}/{second_admin.id}", t["owner"].name, {"role": "viewer"})
    assert reply.status == 200
    reply = patch(api, f"{path}/{t['owner'].id}", t["owner"].name, {"role": "admin"})
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "rule_violation"
    assert "last owner" in reply.error["message"]
    # Bad input names the field; an unknown member is 404.
    reply = patch(api, f"{path}/{t['viewer'].id}", t["owner"].name, {"role": "boss"})
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "role"
    reply = patch(api, f"{path}/{uuid.uuid4()}", t["owner"].name, {"role": "viewer"})
    assert reply.status == 404
    reply = patch(api, f"{path}/not-a-uuid", t["owner"].name, {"role": "viewer"})
    assert reply.status == 422
    # Each change is audited with who made it.
    actors = world.sql(
        "select changed_by::text, old_record ->> 'role', new_record ->> 'role'"
        " from public.audit_log where table_name = 'public.memberships' and organization_id = %s"
        " and operation = 'UPDATE' order by id",
        org,
    )
    assert actors == [
        (t["admin"].id, "viewer", "member"),
        (t["owner"].id, "admin", "viewer"),
    ]


def test_remove_leave_and_the_last_owner(api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    path = f"/api/organizations/{org}/members"
    assert api.delete(f"{path}/{t['admin'].id}", as_=t["member"].name).status == 403
    second_admin = person(world, "admin2", org, "admin")
    assert api.delete(f"{path}/{second_admin.id}", as_=t["admin"].name).status == 403
    assert api.delete(f"{path}/{t['viewer'].id}", as_=t["admin"].name).status == 204
    assert role_of(world, org, t["viewer"]) is None
    assert api.delete(f"{path}/{t['viewer'].id}", as_=t["admin"].name).status == 404
    reply = api.delete(f"{path}/{t['owner'].id}", as_=t["owner"].name)
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"

    assert api.post(f"/api/organizations/{org}/leave", as_=t["member"].name).status == 204
    assert role_of(world, org, t["member"]) is None
    reply = api.post(f"/api/organizations/{org}/leave", as_=t["owner"].name)
    assert reply.status == 422
    assert "last owner" in reply.error["message"]
    assert reply.error["details"]["hint"].startswith("Make another member an owner")
    assert api.post(f"/api/organizations/{org}/leave", as_="bob").status == 404
    removed = world.sql(
        "select changed_by::text, old_record ->> 'user_id' from public.audit_log"
        " where table_name = 'public.memberships' and organization_id = %s"
        " and operation = 'DELETE' order by id",
        org,
    )
    assert removed == [(t["admin"].id, t["viewer"].id), (t["member"].id, t["member"].id)]


def test_transfer_ownership(api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    path = f"/api/organizations/{org}/transfer-ownership"
    assert api.post(path, as_=t["admin"].name, json_body={"user_id": t["member"].id}).status == 403
    reply = api.post(path, as_=t["owner"].name, json_body={"user_id": str(uuid.uuid4())})
    assert reply.status == 404
    reply = api.post(path, as_=t["owner"].name, json_body={"user_id": t["owner"].id})
    assert reply.status == 422
    reply = api.post(path, as_=t["owner"].name, json_body={})
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "user_id"
    reply = api.post(path, as_=t["owner"].name, json_body={"user_id": t["member"].id})
    assert reply.status == 200, reply.json()
    assert reply.json()["role"] == "owner"
    assert role_of(world, org, t["member"]) == "owner"
    assert role_of(world, org, t["owner"]) == "admin"
    # The former owner now leaves freely; the new one is the last owner.
    assert api.post(f"/api/organizations/{org}/leave", as_=t["owner"].name).status == 204
    assert api.post(f"/api/organizations/{org}/leave", as_=t["member"].name).status == 422


def test_deleting_the_last_owner_from_auth_is_refused(world: World) -> None:
    t = team(world)
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        world.sql("delete from auth.users where id = %s", t["owner"].id)
    assert "last owner of the organization" in str(refused.value)
    assert world.sql("select 1 from auth.users where id = %s", t["owner"].id) == [(1,)]
    # Another owner first, and the user can go.
    world.sql(
        "update public.memberships set role = 'owner' where organization_id = %s and user_id = %s",
        t["owner"].personal_org,
        t["admin"].id,
    )
    world.sql("delete from auth.users where id = %s", t["owner"].id)
    assert role_of(world, t["owner"].personal_org, t["admin"]) == "owner"
    # A user alone in their organization is deleted as before.
    alone = person(world, "alone")
    world.sql("delete from auth.users where id = %s", alone.id)
    assert world.sql("select 1 from auth.users where id = %s", alone.id) == []
