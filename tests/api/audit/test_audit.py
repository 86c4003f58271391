"""The audit trail as a feature (docs/api.md, "Audit trail"): GET /api/audit for admins with
its filters (table, record, actor, action, days), paginated like every list, unknown and bad
parameters refused naming the field; an invoice's history with its items and payments, a
client's with its invoices, a deleted invoice's still readable; members, viewers and
strangers refused."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.api.conftest import Api, World
from tests.api.organizations.test_organizations import team


@pytest.fixture(scope="module")
def audited(api: Api, world: World) -> dict[str, Any]:
    """A team whose member made a client, an invoice and a payment; the admin a rename."""
    t = team(world)
    org = t["owner"].personal_org
    member = t["member"].name
    client = api.post(
        "/api/clients",
        as_=member,
        org=org,
        json_body={"company_name": "Audit Client", "currency": "USD"},
    )
    assert client.status == 201, client.json()
    today = dt.date.today()
    invoice = api.post(
        "/api/invoices",
        as_=member,
        org=org,
        json_body={
            "client_id": client.json()["id"],
            "issue_date": today.isoformat(),
            "due_date": (today + dt.timedelta(days=30)).isoformat(),
            "status": "sent",
            "items": [{"description": "Work", "quantity": "2", "rate": "50.00"}],
        },
    )
    assert invoice.status == 201, invoice.json()
    payment = api.post(
        "/api/payments",
        as_=member,
        org=org,
        json_body={"invoice_id": invoice.json()["id"], "amount": "40.00"},
    )
    assert payment.status == 201, payment.json()
    return {
        "team": t,
        "org": org,
        "client": client.json()["id"],
        "invoice": invoice.json()["id"],
        "payment": payment.json()["id"],
    }


def audit(api: Api, a: dict[str, Any], as_: str = "admin", **query: Any) -> Any:
    person = a["team"][as_].name if as_ in a["team"] else as_
    return api.get("/api/audit", as_=person, org=a["org"], query=query)


def test_admins_list_the_entries_newest_first(any_api: Api, audited: dict[str, Any]) -> None:
    reply = audit(any_api, audited, page_size=100)
    assert reply.status == 200, reply.json()
    body = reply.json()
    entries = body["data"]
    assert body["pagination"]["total"] == len(entries) or body["pagination"]["total"] > 100
    moments = [e["changed_at"] for e in entries]
    assert moments == sorted(moments, reverse=True)
    tables = {e["table_name"] for e in entries}
    assert {"public.clients", "public.invoices", "public.payments", "public.memberships"} <= tables
    assert all(e["organization_id"] == audited["org"] for e in entries)
    client_insert = next(
        e for e in entries if e["table_name"] == "public.clients" and e["action"] == "insert"
    )
    assert client_insert["changed_by"] == audited["team"]["member"].id
    assert client_insert["new_record"]["company_name"] == "Audit Client"


def test_filters(api: Api, audited: dict[str, Any]) -> None:
    member = audited["team"]["member"].id
    only_client = audit(api, audited, table="clients", record_id=audited["client"])
    assert only_client.status == 200, only_client.json()
    assert [(e["table_name"], e["record_id"]) for e in only_client.json()["data"]] == [
        ("public.clients", audited["client"])
    ] * len(only_client.json()["data"])
    assert only_client.json()["pagination"]["total"] >= 1
    same = audit(api, audited, table="public.clients", record_id=audited["client"])
    assert same.json()["pagination"] == only_client.json()["pagination"]

    by_member = audit(api, audited, actor=member, action="insert", page_size=100).json()["data"]
    assert by_member
    assert {e["changed_by"] for e in by_member} == {member}
    assert {e["action"] for e in by_member} == {"insert"}
    by_owner = audit(api, audited, actor=audited["team"]["owner"].id, action="insert,update")
    assert member not in {e["changed_by"] for e in by_owner.json()["data"]}

    today = dt.date.today()
    todays = audit(api, audited, changed_from=today.isoformat(), changed_to=today.isoformat())
    assert todays.json()["pagination"]["total"] >= 4
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert audit(api, audited, changed_from=tomorrow).json()["pagination"]["total"] == 0

    page = audit(api, audited, page=2, page_size=2)
    assert page.status == 200
    assert page.json()["pagination"]["page"] == 2
    assert len(page.json()["data"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"action": "rename"}, "action"),
        ({"table": "Invoices; drop"}, "table"),
        ({"record_id": "not-a-uuid"}, "record_id"),
        ({"actor": "x"}, "actor"),
        ({"changed_from": "2026-13-01"}, "changed_from"),
        ({"changed_from": "2026-12-02", "changed_to": "2026-12-01"}, "changed_to"),
        ({"page_size": "101"}, "page_size"),
        ({"sort": "changed_at"}, "sort"),
        ({"entity": "invoices"}, "entity"),
    ],
)
def test_bad_and_unknown_parameters_are_refused(
    api: Api, audited: dict[str, Any], query: dict[str, Any], field: str
) -> None:
    reply = audit(api, audited, **query)
    assert reply.status in (400, 422), reply.json()
    assert field in reply.content.decode()


def test_only_admins_read_the_audit(api: Api, audited: dict[str, Any]) -> None:
    assert audit(api, audited, as_="owner").status == 200
    for who in ("member", "viewer"):
        reply = audit(api, audited, as_=who)
        assert reply.status == 403, reply.json()
    stranger = api.get("/api/audit", as_="bob", org=audited["org"])
    assert stranger.status == 403
    own = api.get("/api/audit", as_="bob", query={"record_id": audited["client"]})
    assert own.status == 200
    assert own.json()["data"] == []


def test_an_invoices_history_has_its_items_and_payments(
    any_api: Api, audited: dict[str, Any]
) -> None:
    admin = audited["team"]["admin"].name
    reply = any_api.get(
        f"/api/invoices/{audited['invoice']}/history", as_=admin, org=audited["org"]
    )
    assert reply.status == 200, reply.json()
    entries = reply.json()["data"]
    tables = {e["table_name"] for e in entries}
    assert {"public.invoices", "public.invoice_items", "public.payments"} <= tables
    payment = next(e for e in entries if e["table_name"] == "public.payments")
    assert payment["record_id"] == audited["payment"]
    assert reply.json()["pagination"]["total"] == len(entries)
    # The member's own records are still not theirs to audit.
    member = audited["team"]["member"].name
    assert (
        any_api.get(
            f"/api/invoices/{audited['invoice']}/history", as_=member, org=audited["org"]
        ).status
        == 403
    )
    missing = any_api.get(f"/api/invoices/{uuid.uuid4()}/history", as_=admin, org=audited["org"])
    assert missing.status == 404
    assert missing.error["code"] == "not_found"


def test_a_clients_history_and_a_deleted_invoices(api: Api, audited: dict[str, Any]) -> None:
    admin = audited["team"]["admin"].name
    org = audited["org"]
    reply = api.get(f"/api/clients/{audited['client']}/history", as_=admin, org=org)
    assert reply.status == 200, reply.json()
    pairs = {(e["table_name"], e["record_id"]) for e in reply.json()["data"]}
    assert ("public.clients", audited["client"]) in pairs
    assert ("public.invoices", audited["invoice"]) in pairs

    draft = api.post(
        "/api/invoices",
        as_=admin,
        org=org,
        json_body={
            "client_id": audited["client"],
            "due_date": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
            "items": [{"description": "Gone", "quantity": "1", "rate": "5.00"}],
        },
    )
    assert draft.status == 201, draft.json()
    assert api.delete(f"/api/invoices/{draft.json()['id']}", as_=admin, org=org).status == 204
    gone = api.get(f"/api/invoices/{draft.json()['id']}/history", as_=admin, org=org)
    assert gone.status == 200
    assert gone.json()["data"][0]["action"] == "delete"
    assert api.get(f"/api/clients/{audited['client']}/history", as_="bob").status == 404
