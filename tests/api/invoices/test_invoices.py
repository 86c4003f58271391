"""The invoices routes: list, create, get, update, delete (docs/api.md, "Invoices").

Each test makes its own clients (and, where it asserts whole lists, its own organization),
so the session's shared world stays usable by the other files.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.api.conftest import Api, Response, World

# =============================================================================
# Helpers
# =============================================================================


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_client(world: World, org: str, *, currency: str = "USD", name: str | None = None) -> str:
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, currency)"
        " values (%s, %s, %s) returning id::text",
        org,
        name or unique("Client"),
        currency,
    )
    return str(rows[0][0])


def new_person(world: World) -> str:
    """A new user with an organization of their own (the owner): a clean slate."""
    name = unique("inv")
    world.add_person(name)
    return name


def item(description: str = "Work", quantity: Any = "1", rate: Any = "100") -> dict[str, Any]:
    return {"description": description, "quantity": quantity, "rate": rate}


def create(
    api: Api,
    client_id: str,
    *,
    as_: str = "alice",
    items: list[dict[str, Any]] | None = None,
    settings_defaults: bool = False,
    **fields: Any,
) -> Response:
    """POST /api/invoices. Organization A's settings are shared with other test files
    (which may change its default tax rate or terms): unless `settings_defaults`, the
    fields the totals and dates depend on are given."""
    body = {"client_id": client_id, "items": items or [item()], **fields}
    if not settings_defaults:
        body.setdefault("tax_rate", "0")
        if "due_date" not in body:
            body.setdefault("payment_terms", "net30")
    return api.post("/api/invoices", as_=as_, json_body=body)


def created(api: Api, client_id: str, **kwargs: Any) -> dict[str, Any]:
    reply = create(api, client_id, **kwargs)
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def today(world: World) -> dt.date:
    value = world.sql("select current_date")[0][0]
    assert isinstance(value, dt.date)
    return value


def counts(world: World, org: str) -> tuple[int, int, int]:
    """Invoices, items and the numbering counter of an organization: a failed write
    must leave all three as they were."""
    row = world.sql(
        "select (select count(*) from public.invoices where organization_id = %s),"
        " (select count(*) from public.invoice_items where organization_id = %s),"
        " (select next_invoice_number from public.organization_settings"
        "  where organization_id = %s)",
        org,
        org,
        org,
    )[0]
    return int(row[0]), int(row[1]), int(row[2])


def pay(world: World, invoice_id: str, amount: str) -> None:
    world.sql(
        "insert into public.payments (invoice_id, amount) values (%s, %s)", invoice_id, amount
    )


def numbers(reply: Response) -> list[str]:
    assert reply.status == 200, reply.json()
    return [row["invoice_number"] for row in reply.json()["data"]]


# =============================================================================
# Create
# =============================================================================


def test_create_computes_exact_totals(api: Api, world: World) -> None:
    client = new_client(world, world.org_a, name=unique("Exact Co"))
    reply = create(
        api,
        client,
        items=[item("Consulting", "3", "33.335"), item("Travel", 1, 0)],
        tax_rate="8.875",
        discount="10",
        issue_date="2026-03-01",
        notes="Thank you",
    )
    assert reply.status == 201, reply.json()
    body = reply.json()
    assert reply.headers["location"] == f"/api/invoices/{body['id']}"
    # 3 x 33.335 = 100.005 -> 100.01 (half up); (100.01 - 10) x 8.875 % = 7.988... -> 7.99
    assert {k: body[k] for k in ("subtotal", "discount", "tax_amount", "total_amount")} == {
        "subtotal": "100.01",
        "discount": "10.00",
        "tax_amount": "7.99",
        "total_amount": "98.00",
    }
    assert body["amount_paid"] == "0.00"
    assert body["balance_due"] == "98.00"
    assert body["tax_rate"] == "8.875"
    assert body["status"] == "draft"
    assert body["currency"] == "USD"
    assert body["due_date"] == "2026-03-31"
    assert body["payment_terms"] == "net30"
    assert body["notes"] == "Thank you"
    assert [
        (i["position"], i["description"], i["quantity"], i["rate"], i["amount"])
        for i in body["items"]
    ] == [
        (0, "Consulting", "3", "33.335", "100.01"),
        (1, "Travel", "1", "0", "0.00"),
    ]
    assert body["payments"] == []
    assert body["client"]["id"] == client
    assert body["client"]["currency"] == "USD"
    # Money travels as decimal strings, never as JSON numbers.
    assert b'"total_amount":"98.00"' in reply.content
    assert b'"amount":"100.01"' in reply.content


def test_create_accepts_json_numbers_and_strings_alike(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    as_numbers = created(api, client, items=[item("A", 3, 33.335)], tax_rate=8.875)
    as_strings = created(api, client, items=[item("A", "3", "33.335")], tax_rate="8.875")
    for key in ("subtotal", "tax_amount", "total_amount"):
        assert as_numbers[key] == as_strings[key]
    assert as_numbers["total_amount"] == "108.89"


def test_create_in_yen_rounds_to_whole_yen(api: Api, world: World) -> None:
    client = new_client(world, world.org_a, currency="JPY")
    body = created(api, client, items=[item("Widget", "3", "1000.5")], tax_rate="10", discount="2")
    # 3001.5 -> 3002; (3002 - 2) x 10 % = 300; total 3300
    assert (body["currency"], body["subtotal"], body["tax_amount"], body["total_amount"]) == (
        "JPY",
        "3002",
        "300",
        "3300",
    )
    assert body["items"][0]["amount"] == "3002"

    before = counts(world, world.org_a)
    reply = create(api, client, items=[item("Widget", "1", "10")], discount="0.5")
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "JPY" in reply.error["message"]
    assert counts(world, world.org_a) == before


def test_create_uses_the_organization_settings_and_numbers_without_gaps(
    api: Api, world: World
) -> None:
    owner = new_person(world)
    org = world.people[owner].personal_org
    world.sql(
        "update public.organization_settings set invoice_prefix = 'ACME-',"
        " invoice_number_padding = 3, next_invoice_number = 7, default_payment_terms = 'net15',"
        " default_tax_rate = 5, default_notes = 'Default notes', default_template = 'modern'"
        " where organization_id = %s",
        org,
    )
    client = new_client(world, org)
    first = created(api, client, as_=owner, issue_date="2026-06-01", settings_defaults=True)
    assert first["invoice_number"] == "ACME-007"
    assert (first["payment_terms"], first["due_date"]) == ("net15", "2026-06-16")
    assert (first["tax_rate"], first["tax_amount"], first["total_amount"]) == (
        "5.000",
        "5.00",
        "105.00",
    )
    assert (first["notes"], first["template"]) == ("Default notes", "modern")

    # A refused creation consumes no number.
    before = counts(world, org)
    bad = create(api, client, as_=owner, items=[item(rate="10")], discount="11")
    assert bad.status == 422
    assert bad.error["code"] == "rule_violation"
    assert counts(world, org) == before

    second = created(
        api, client, as_=owner, notes=None, due_date="2026-07-01", issue_date="2026-06-01"
    )
    assert second["invoice_number"] == "ACME-008"
    assert second["notes"] is None  # null given: no default
    assert second["payment_terms"] == "custom"  # a due date without terms

    # A number given by hand is kept (trimmed); taken again, it is a conflict.
    given = created(api, client, as_=owner, invoice_number="  HAND-1 ")
    assert given["invoice_number"] == "HAND-1"
    before = counts(world, org)
    for number in ("HAND-1", "ACME-007"):
        reply = create(api, client, as_=owner, invoice_number=number)
        assert reply.status == 409, reply.json()
        assert reply.error["code"] == "conflict"
        assert number in reply.error["message"]
    assert counts(world, org) == before


def test_create_sent_at_once(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    body = created(api, client, as_="maria", status="sent")
    assert body["status"] == "sent"
    assert body["sent_at"] is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"items": [item(quantity="-1")]}, "items[0].quantity"),
        ({"items": [item(quantity="0")]}, "items[0].quantity"),
        ({"items": [item(rate="-0.01")]}, "items[0].rate"),
        ({"items": [item(rate="1.23456")]}, "items[0].rate"),
        ({"items": [item(description="   ")]}, "items[0].description"),
        ({"items": [item(description="x" * 2001)]}, "items[0].description"),
        ({"items": [{**item(), "amount": "5"}]}, "items[0].amount"),
        ({"items": [{"description": "no numbers"}]}, "items[0].quantity"),
        ({"items": []}, "items"),
        ({"items": [item()] * 201}, "items"),
        ({"issue_date": "2026-05-10", "due_date": "2026-05-01"}, "due_date"),
        ({"issue_date": "10000-01-01"}, "issue_date"),
        ({"issue_date": "1899-12-31"}, "issue_date"),
        ({"due_date": "2201-01-01"}, "due_date"),
        ({"issue_date": "2026-02-30"}, "issue_date"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"tax_rate": "100.5"}, "tax_rate"),
        ({"tax_rate": "8.8755"}, "tax_rate"),
        ({"discount": "-1"}, "discount"),
        ({"discount": "NaN"}, "discount"),
        ({"status": "paid"}, "status"),
        ({"payment_terms": "net1000"}, "payment_terms"),
        ({"template": "fancy"}, "template"),
        ({"invoice_number": ""}, "invoice_number"),
        ({"invoice_number": "x" * 51}, "invoice_number"),
        ({"notes": "x" * 5001}, "notes"),
    ],
)
def test_create_validation(api: Api, world: World, change: dict[str, Any], field: str) -> None:
    client = new_client(world, world.org_a)
    before = counts(world, world.org_a)
    body = {"client_id": client, "items": [item()], **change}
    reply = api.post("/api/invoices", as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    error = reply.error
    assert error["code"] == "validation_failed"
    assert field in [d["field"] for d in error["details"]], error
    assert counts(world, world.org_a) == before


def test_create_without_client_or_body(api: Api, world: World) -> None:
    reply = api.post("/api/invoices", as_="alice", json_body={"items": [item()]})
    assert reply.status == 422
    assert [d["field"] for d in reply.error["details"]] == ["client_id"]
    reply = api.post("/api/invoices", as_="alice", content=b"{not json")
    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"


def test_create_for_another_organizations_client_is_an_invalid_reference(
    api: Api, world: World
) -> None:
    theirs = new_client(world, world.org_b)
    before = counts(world, world.org_a)
    reply = create(api, theirs)
    assert reply.status == 422
    assert reply.error["code"] == "invalid_reference"
    assert counts(world, world.org_a) == before
    reply = create(api, str(uuid.uuid4()))
    assert reply.error["code"] == "invalid_reference"


# =============================================================================
# Roles and tenants
# =============================================================================


def test_viewer_reads_but_cannot_write(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, notes="original")
    before = counts(world, world.org_a)
    path = f"/api/invoices/{invoice['id']}"
    assert create(api, client, as_="victor").status == 403
    reply = api.put(path, as_="victor", json_body={"notes": "viewer"})
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"
    assert api.delete(path, as_="victor").status == 403
    assert counts(world, world.org_a) == before
    got = api.get(path, as_="victor")
    assert got.status == 200
    assert got.json()["notes"] == "original"
    assert api.get("/api/invoices", as_="victor").status == 200


def test_another_organization_gets_404_for_every_route(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client)
    path = f"/api/invoices/{invoice['id']}"
    for reply in (
        api.get(path, as_="bob"),
        api.put(path, as_="bob", json_body={"notes": "mine now"}),
        api.delete(path, as_="bob"),
    ):
        assert reply.status == 404, reply.json()
        assert reply.error["code"] == "not_found"
    assert api.get(path, as_="alice").json() == invoice
    listed = api.get("/api/invoices", as_="bob", query={"q": invoice["invoice_number"]})
    assert invoice["id"] not in [row["id"] for row in listed.json()["data"]]


def test_unknown_and_malformed_ids(api: Api) -> None:
    missing = f"/api/invoices/{uuid.uuid4()}"
    assert api.get(missing, as_="alice").status == 404
    assert api.put(missing, as_="alice", json_body={"notes": "x"}).status == 404
    assert api.delete(missing, as_="alice").status == 404
    for method in ("GET", "PUT", "DELETE"):
        reply = api.request(method, "/api/invoices/not-a-uuid", as_="alice", json_body={})
        assert reply.status == 422, method
        assert reply.error["details"][0]["in"] == "path"
        assert reply.error["details"][0]["field"] == "id"


# =============================================================================
# Get
# =============================================================================


def test_get_embeds_items_payments_and_client(api: Api, world: World) -> None:
    name = unique("Embedded GmbH")
    client = new_client(world, world.org_a, name=name)
    world.sql("update public.clients set email = 'ap@example.com' where id = %s", client)
    invoice = created(
        api,
        client,
        items=[item("first", "1", "10"), item("second", "2", "20"), item("third", "3", "30")],
        status="sent",
    )
    pay(world, invoice["id"], "50.50")
    pay(world, invoice["id"], "9.50")
    reply = api.get(f"/api/invoices/{invoice['id']}", as_="victor")
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert [i["description"] for i in body["items"]] == ["first", "second", "third"]
    assert [i["amount"] for i in body["items"]] == [
        "10.00",
        "40.00",
        "90.00",
    ]
    assert [p["amount"] for p in body["payments"]] == ["50.50", "9.50"]
    assert body["payments"][0]["currency"] == "USD"
    assert (body["amount_paid"], body["balance_due"], body["status"]) == (
        "60.00",
        "80.00",
        "sent",
    )
    assert body["client"] == {
        "id": client,
        "company_name": name,
        "contact_person": None,
        "email": "ap@example.com",
        "phone": None,
        "address": None,
        "currency": "USD",
    }
    # The write routes answer with the same document as the read route.
    again = api.put(f"/api/invoices/{invoice['id']}", as_="alice", json_body={})
    assert again.json() == body


# =============================================================================
# List
# =============================================================================


@pytest.fixture(scope="module")
def ledger(api: Api, world: World) -> dict[str, Any]:
    """An organization of its own with six invoices whose every property is known."""
    owner = new_person(world)
    org = world.people[owner].personal_org
    acme = new_client(world, org, name="Acme Widgets")
    bolt = new_client(world, org, name="Bolt 100% Yen", currency="JPY")
    day = today(world)

    def make(
        number: str, client: str, issued: int, due: int, rate: str, *, status: str = "draft"
    ) -> dict[str, Any]:
        """An invoice of one item issued and due `issued`/`due` days from today."""
        return created(
            api,
            client,
            as_=owner,
            invoice_number=number,
            issue_date=(day + dt.timedelta(days=issued)).isoformat(),
            due_date=(day + dt.timedelta(days=due)).isoformat(),
            items=[item(rate=rate)],
            status=status,
        )

    ids = {
        "L-1": make("L-1", acme, -90, -60, "100"),
        "L-2": make("L-2", acme, -40, -10, "250", status="sent"),
        "L-3": make("L-3", bolt, -70, -40, "5000", status="sent"),
        "L-4": make("L-4", acme, -5, 25, "75.5", status="sent"),
        "L-5": make("L-5", bolt, -20, 10, "300", status="sent"),
        "X_9": make("X_9", acme, 0, 0, "0.99"),
    }
    # The daily job marked L-3 overdue; L-2 is past due but not marked yet.
    world.sql("update public.invoices set status = 'overdue' where id = %s", ids["L-3"]["id"])
    reply = api.delete(f"/api/invoices/{ids['L-5']['id']}", as_=owner)
    assert reply.status == 200
    return {"owner": owner, "org": org, "acme": acme, "bolt": bolt, "ids": ids, "day": day}


def test_list_default_sort_is_newest_issue_date_first(api: Api, ledger: dict[str, Any]) -> None:
    reply = api.get("/api/invoices", as_=ledger["owner"])
    assert numbers(reply) == ["X_9", "L-4", "L-5", "L-2", "L-3", "L-1"]
    assert reply.json()["pagination"] == {"page": 1, "page_size": 25, "total": 6, "total_pages": 1}
    row = reply.json()["data"][1]
    assert row["client"] == {"id": ledger["acme"], "company_name": "Acme Widgets"}
    assert row["total_amount"] == "75.50"
    assert "items" not in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "sent"}, ["L-4", "L-2"]),
        ({"status": "sent,overdue"}, ["L-4", "L-2", "L-3"]),
        ({"status": "cancelled"}, ["L-5"]),
        ({"status": "draft", "sort": "invoice_number"}, ["L-1", "X_9"]),
        ({"overdue": "true"}, ["L-2", "L-3"]),
        ({"overdue": "false"}, ["X_9", "L-4", "L-5", "L-1"]),
        ({"total_from": "100", "total_to": "300"}, ["L-5", "L-2", "L-1"]),
        ({"total_from": "5000"}, ["L-3"]),
        ({"q": "l-"}, ["L-4", "L-5", "L-2", "L-3", "L-1"]),
        ({"q": "x_"}, ["X_9"]),
        ({"q": "_"}, ["X_9"]),
        ({"q": "BOLT"}, ["L-5", "L-3"]),
        ({"q": "100%"}, ["L-5", "L-3"]),
        ({"q": "%"}, ["L-5", "L-3"]),
        ({"q": "nothing like it"}, []),
        ({"sort": "total"}, ["X_9", "L-4", "L-1", "L-2", "L-5", "L-3"]),
        ({"sort": "-total_amount"}, ["L-3", "L-5", "L-2", "L-1", "L-4", "X_9"]),
        ({"sort": "-invoice_number"}, ["X_9", "L-5", "L-4", "L-3", "L-2", "L-1"]),
        ({"sort": "due_date"}, ["L-1", "L-3", "L-2", "X_9", "L-5", "L-4"]),
        ({"sort": "client,-balance_due"}, ["L-2", "L-1", "L-4", "X_9", "L-3", "L-5"]),
        ({"sort": "status,invoice_number"}, ["L-5", "L-1", "X_9", "L-3", "L-2", "L-4"]),
    ],
)
def test_list_filters_search_and_sort(
    api: Api, ledger: dict[str, Any], query: dict[str, str], expected: list[str]
) -> None:
    reply = api.get("/api/invoices", as_=ledger["owner"], query=query)
    assert numbers(reply) == expected
    assert reply.json()["pagination"]["total"] == len(expected)


def test_list_date_and_client_filters(api: Api, ledger: dict[str, Any]) -> None:
    day: dt.date = ledger["day"]
    owner = ledger["owner"]

    def listed(**query: Any) -> list[str]:
        return numbers(
            api.get("/api/invoices", as_=owner, query={"sort": "invoice_number", **query})
        )

    assert listed(client_id=ledger["bolt"]) == ["L-3", "L-5"]
    assert listed(client_id=f"{ledger['bolt']},{ledger['acme']}") == [
        "L-1",
        "L-2",
        "L-3",
        "L-4",
        "L-5",
        "X_9",
    ]
    assert listed(client_id=str(uuid.uuid4())) == []
    assert listed(issue_date_from=(day - dt.timedelta(days=40)).isoformat()) == [
        "L-2",
        "L-4",
        "L-5",
        "X_9",
    ]
    assert listed(
        issue_date_from=(day - dt.timedelta(days=70)).isoformat(),
        issue_date_to=(day - dt.timedelta(days=20)).isoformat(),
    ) == ["L-2", "L-3", "L-5"]
    assert listed(due_date_to=day.isoformat()) == ["L-1", "L-2", "L-3", "X_9"]
    assert listed(due_date_from=day.isoformat(), due_date_to=day.isoformat()) == ["X_9"]
    assert listed(status="sent", client_id=ledger["acme"], overdue="false") == ["L-4"]


def test_list_pagination(api: Api, ledger: dict[str, Any]) -> None:
    owner = ledger["owner"]
    pages = [
        api.get(
            "/api/invoices",
            as_=owner,
            query={"sort": "invoice_number", "page_size": 4, "page": page},
        )
        for page in (1, 2, 3)
    ]
    assert [numbers(p) for p in pages] == [["L-1", "L-2", "L-3", "L-4"], ["L-5", "X_9"], []]
    for page, reply in enumerate(pages, start=1):
        assert reply.json()["pagination"] == {
            "page": page,
            "page_size": 4,
            "total": 6,
            "total_pages": 2,
        }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "amount"}, "sort"),
        ({"sort": "a,b,c,d"}, "sort"),
        ({"status": "sent,lost"}, "status"),
        ({"client_id": "acme"}, "client_id"),
        ({"overdue": "maybe"}, "overdue"),
        ({"issue_date_from": "2026-13-01"}, "issue_date_from"),
        ({"total_from": "lots"}, "total_from"),
        ({"page": "0"}, "page"),
        ({"page_size": "101"}, "page_size"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_list_refuses_bad_parameters(
    api: Api, ledger: dict[str, Any], query: dict[str, str], field: str
) -> None:
    reply = api.get("/api/invoices", as_=ledger["owner"], query=query)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == field


def test_list_shows_only_the_callers_organization(api: Api, ledger: dict[str, Any]) -> None:
    reply = api.get("/api/invoices", as_="bob", query={"q": "L-"})
    assert not {row["id"] for row in reply.json()["data"]} & {
        inv["id"] for inv in ledger["ids"].values()
    }


# =============================================================================
# Update
# =============================================================================


def test_update_a_draft(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(
        api, client, items=[item("one", "1", "10"), item("two", "2", "10")], issue_date="2026-04-01"
    )
    path = f"/api/invoices/{invoice['id']}"
    number = unique("RENUM")
    reply = api.put(
        path,
        as_="maria",
        json_body={
            "invoice_number": number,
            "issue_date": "2026-05-01",
            "payment_terms": "net7",
            "notes": "hello",
            "tax_rate": "10",
            "template": "minimal",
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert (body["invoice_number"], body["issue_date"], body["due_date"], body["notes"]) == (
        number,
        "2026-05-01",
        "2026-05-08",
        "hello",
    )
    assert body["total_amount"] == "33.00"
    assert body["updated_at"] > invoice["updated_at"]

    # Replace: the first item kept by id (new quantity), the second dropped, one added first.
    first_id = body["items"][0]["id"]
    reply = api.put(
        path,
        as_="alice",
        json_body={
            "discount": "5",
            "items": [item("new", "1", "100"), {"id": first_id, "quantity": "3"}],
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert [(i["description"], i["quantity"], i["position"]) for i in body["items"]] == [
        ("new", "1", 0),
        ("one", "3", 1),
    ]
    assert body["items"][1]["id"] == first_id
    # (130 - 5) x 10 % = 12.50
    assert (body["subtotal"], body["tax_amount"], body["total_amount"]) == (
        "130.00",
        "12.50",
        "137.50",
    )

    # Patch: change one, delete one, add one; the others stay.
    new_id = body["items"][0]["id"]
    reply = api.put(
        path,
        as_="alice",
        json_body={
            "items_mode": "patch",
            "items": [
                {"id": first_id, "_delete": True},
                {"id": new_id, "rate": "50"},
                item("added", "2", "1"),
            ],
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert [(i["description"], i["amount"]) for i in body["items"]] == [
        ("new", "50.00"),
        ("added", "2.00"),
    ]
    assert body["subtotal"] == "52.00"

    # null clears notes; the fields left out stay.
    reply = api.put(path, as_="alice", json_body={"notes": None})
    assert reply.json()["notes"] is None
    assert reply.json()["invoice_number"] == number


def test_update_moves_a_draft_to_a_client_in_another_currency(api: Api, world: World) -> None:
    dollars = new_client(world, world.org_a)
    yen = new_client(world, world.org_a, currency="JPY")
    invoice = created(api, dollars, items=[item("x", "3", "33.335")])
    reply = api.put(f"/api/invoices/{invoice['id']}", as_="alice", json_body={"client_id": yen})
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert (body["currency"], body["subtotal"], body["client"]["id"]) == ("JPY", "100", yen)
    assert body["items"][0]["amount"] == "100"

    theirs = new_client(world, world.org_b)
    reply = api.put(f"/api/invoices/{invoice['id']}", as_="alice", json_body={"client_id": theirs})
    assert reply.status == 422
    assert reply.error["code"] == "invalid_reference"


def test_update_is_all_or_nothing(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, items=[item("a", "1", "100")], discount="50")
    path = f"/api/invoices/{invoice['id']}"
    before = api.get(path, as_="alice").json()
    # New notes and new items are fine; the kept discount exceeds the new subtotal.
    reply = api.put(
        path, as_="alice", json_body={"notes": "changed", "items": [item("b", "1", "10")]}
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "discount" in reply.error["message"]
    assert api.get(path, as_="alice").json() == before

    other = created(api, client)
    foreign_item = other["items"][0]["id"]
    reply = api.put(
        path,
        as_="alice",
        json_body={
            "notes": "changed",
            "items_mode": "patch",
            "items": [{"id": foreign_item, "rate": "1"}],
        },
    )
    assert reply.status == 422
    assert reply.error["code"] == "invalid_reference"
    assert api.get(path, as_="alice").json() == before
    assert api.get(f"/api/invoices/{other['id']}", as_="alice").json() == other


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"client_id": None}, "client_id"),
        ({"invoice_number": None}, "invoice_number"),
        ({"issue_date": None}, "issue_date"),
        ({"due_date": "10000-01-01"}, "due_date"),
        ({"issue_date": "2026-05-10", "due_date": "2026-05-01"}, "due_date"),
        ({"status": "lost"}, "status"),
        ({"items": None}, "items"),
        ({"items": []}, "items"),
        ({"items": [{"quantity": "1"}]}, "items[0]"),
        ({"items": [{"id": "not-a-uuid"}]}, "items[0].id"),
        ({"items": [{**item(), "quantity": "-2"}]}, "items[0].quantity"),
        ({"items": [{"id": str(uuid.uuid4()), "_delete": True}]}, "items"),
        ({"items_mode": "patch", "items": [{"_delete": True}]}, "items[0]"),
        (
            {
                "items_mode": "patch",
                "items": [{"id": str(uuid.uuid4()), "_delete": True, "rate": "1"}],
            },
            "items[0]",
        ),
        ({"items_mode": "merge", "items": [item()]}, "items_mode"),
        ({"items": [{**item(), "delete": True}]}, "items[0].delete"),
    ],
)
def test_update_validation(api: Api, world: World, body: dict[str, Any], field: str) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client)
    reply = api.put(f"/api/invoices/{invoice['id']}", as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert field in [d["field"] for d in reply.error["details"]], reply.error
    assert api.get(f"/api/invoices/{invoice['id']}", as_="alice").json() == invoice


def test_update_rules_once_sent(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    other_client = new_client(world, world.org_a)
    day = today(world)
    invoice = created(
        api,
        client,
        items=[item("work", "1", "100")],
        issue_date=(day - dt.timedelta(days=60)).isoformat(),
        due_date=(day + dt.timedelta(days=5)).isoformat(),
    )
    path = f"/api/invoices/{invoice['id']}"
    sent = api.put(path, as_="alice", json_body={"status": "sent"}).json()
    assert sent["status"] == "sent"
    assert sent["sent_at"] is not None

    for change in (
        {"client_id": other_client},
        {"invoice_number": unique("N")},
        {"issue_date": (day - dt.timedelta(days=59)).isoformat()},
    ):
        reply = api.put(path, as_="alice", json_body=change)
        assert reply.status == 422, change
        assert reply.error["code"] == "rule_violation"
        assert "has been sent" in reply.error["message"]
        assert reply.error["details"] == {"hint": "Cancel it and create a new invoice."}

    # The same values sent back are no change; notes, terms and template change freely.
    reply = api.put(
        path,
        as_="alice",
        json_body={
            "client_id": client,
            "invoice_number": invoice["invoice_number"],
            "status": "sent",
            "notes": "n",
            "terms": "t",
            "payment_instructions": "IBAN",
            "template": "modern",
        },
    )
    assert reply.status == 200, reply.json()

    # Before any payment: items, tax rate and discount.
    reply = api.put(
        path,
        as_="alice",
        json_body={"tax_rate": "10", "discount": "20", "items": [item("work", "2", "100")]},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["total_amount"] == "198.00"

    pay(world, invoice["id"], "50")
    before = api.get(path, as_="alice").json()
    frozen: list[dict[str, Any]] = [
        {"discount": "0"},
        {"tax_rate": "0"},
        {"items": [item("work", "3", "100")]},
        {"items_mode": "patch", "items": [item("extra", "1", "1")]},
        {"status": "cancelled"},
    ]
    for change in frozen:
        reply = api.put(path, as_="alice", json_body=change)
        assert reply.status == 422, change
        assert reply.error["code"] == "rule_violation"
        assert "payments" in reply.error["message"]
    assert api.get(path, as_="alice").json() == before

    # The due date still moves, and the open status follows it.
    reply = api.put(
        path, as_="alice", json_body={"due_date": (day - dt.timedelta(days=1)).isoformat()}
    )
    assert (reply.json()["status"], reply.json()["payment_terms"]) == ("overdue", "custom")
    reply = api.put(path, as_="alice", json_body={"payment_terms": "net90"})
    assert (reply.json()["status"], reply.json()["due_date"]) == (
        "sent",
        (day + dt.timedelta(days=30)).isoformat(),
    )
    for status, message in (("draft", "back to draft"), ("paid", "payments cover")):
        reply = api.put(path, as_="alice", json_body={"status": status})
        assert reply.status == 422
        assert message in reply.error["message"]

    # Paid: only notes.
    pay(world, invoice["id"], reply_balance(api, path))
    paid = api.get(path, as_="alice").json()
    assert paid["status"] == "paid"
    reply = api.put(path, as_="alice", json_body={"notes": "settled, thanks"})
    assert reply.status == 200
    assert reply.json()["notes"] == "settled, thanks"
    settled: list[dict[str, Any]] = [
        {"terms": "x"},
        {"due_date": day.isoformat()},
        {"items": [item("work", "2", "100")]},
        {"status": "cancelled"},
    ]
    for change in settled:
        reply = api.put(path, as_="alice", json_body=change)
        assert reply.status == 422, change
        assert reply.error["code"] == "rule_violation"


def reply_balance(api: Api, path: str) -> str:
    return str(api.get(path, as_="alice").json()["balance_due"])


def test_cancel_through_update(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, status="sent")
    path = f"/api/invoices/{invoice['id']}"
    reply = api.put(path, as_="alice", json_body={"status": "cancelled", "notes": "void"})
    assert reply.status == 200, reply.json()
    assert (reply.json()["status"], reply.json()["notes"]) == ("cancelled", "void")
    assert reply.json()["cancelled_at"] is not None
    reply = api.put(path, as_="alice", json_body={"status": "sent"})
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"


# =============================================================================
# Delete
# =============================================================================


def test_delete_a_draft_is_204_and_removes_its_items(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, items=[item("a"), item("b")])
    before = counts(world, world.org_a)
    reply = api.delete(f"/api/invoices/{invoice['id']}", as_="maria")
    assert reply.status == 204
    assert reply.content == b""
    after = counts(world, world.org_a)
    assert (after[0], after[1]) == (before[0] - 1, before[1] - 2)
    assert api.get(f"/api/invoices/{invoice['id']}", as_="alice").status == 404
    assert api.delete(f"/api/invoices/{invoice['id']}", as_="alice").status == 404


def test_delete_a_sent_invoice_cancels_it(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, status="sent")
    path = f"/api/invoices/{invoice['id']}"
    reply = api.delete(path, as_="alice")
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert (body["id"], body["status"]) == (invoice["id"], "cancelled")
    assert body["cancelled_at"] is not None
    assert body["items"] == invoice["items"]
    assert api.get(path, as_="alice").json()["status"] == "cancelled"
    again = api.delete(path, as_="alice")
    assert again.status == 200
    assert again.json() == api.get(path, as_="alice").json()


def test_delete_refuses_invoices_with_payments(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    part = created(api, client, status="sent")
    pay(world, part["id"], "10")
    full = created(api, client, status="sent")
    pay(world, full["id"], "100")
    for invoice, message in ((part, "has payments"), (full, "is paid")):
        path = f"/api/invoices/{invoice['id']}"
        before = api.get(path, as_="alice").json()
        reply = api.delete(path, as_="alice")
        assert reply.status == 422
        assert reply.error["code"] == "rule_violation"
        assert message in reply.error["message"]
        assert reply.error["details"] == {
            "hint": "Issue a credit note for the whole invoice: it cancels the invoice"
            " and keeps what was paid as the client's credit."
        }
        assert api.get(path, as_="alice").json() == before


def test_round_trip_over_handler_and_http(any_api: Api, world: World) -> None:
    """Create, read, cancel, delete, through the handler and through the gateway."""
    client = new_client(world, world.org_a)
    draft = create(any_api, client, items=[item("a", "2", "0.5")])
    assert draft.status == 201, draft.json()
    assert draft.headers["content-type"].startswith("application/json")
    path = f"/api/invoices/{draft.json()['id']}"
    assert any_api.get(path, as_="victor").json() == draft.json()
    sent = create(any_api, client, status="sent")
    cancelled = any_api.delete(f"/api/invoices/{sent.json()['id']}", as_="maria")
    assert cancelled.status == 200
    assert cancelled.headers["content-type"].startswith("application/json")
    assert cancelled.json()["status"] == "cancelled"
    deleted = any_api.delete(path, as_="maria")
    assert (deleted.status, deleted.content) == (204, b"")
