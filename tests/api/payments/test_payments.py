"""The payment routes: the money flow exact to the cent, the refusals (overpaying,
drafts, cancelled invoices, bad input) with nothing written, the list's filters,
sorting and pages, and tenancy (other organizations' ids are 404, viewers read only).

Clients and invoices are set up as the superuser (their own routes are another
module's); every payment goes through the API."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, World

TODAY = date.today()


@dataclass
class Invoice:
    id: str
    number: str
    client_id: str
    client_name: str


def make_client(world: World, org: str, currency: str = "USD") -> tuple[str, str]:
    name = f"Payments Client {uuid.uuid4().hex[:8]}"
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, currency)"
        " values (%s, %s, %s) returning id::text",
        org,
        name,
        currency,
    )
    return rows[0][0], name


def make_invoice(
    world: World,
    rates: list[str],
    *,
    org: str | None = None,
    status: str = "sent",
    client: tuple[str, str] | None = None,
    currency: str = "USD",
    issue_date: date = TODAY,
    due_date: date | None = None,
) -> Invoice:
    """An invoice (one item per rate, no tax) in ``status``, made as the superuser."""
    org = org or world.org_a
    client_id, client_name = client or make_client(world, org, currency)
    number = f"T-{uuid.uuid4().hex[:10]}"
    invoice_id = world.sql(
        "insert into public.invoices (organization_id, client_id, invoice_number, issue_date,"
        " due_date) values (%s, %s, %s, %s, %s) returning id::text",
        org,
        client_id,
        number,
        issue_date,
        due_date or issue_date + timedelta(days=30),
    )[0][0]
    for rate in rates:
        world.sql(
            "insert into public.invoice_items (invoice_id, description, quantity, rate)"
            " values (%s, 'work', 1, %s)",
            invoice_id,
            Decimal(rate),
        )
    if status != "draft":
        world.sql("update public.invoices set status = 'sent' where id = %s", invoice_id)
    if status not in ("draft", "sent"):
        world.sql("update public.invoices set status = %s where id = %s", status, invoice_id)
    return Invoice(invoice_id, number, client_id, client_name)


def invoice_state(world: World, invoice_id: str) -> tuple[str, Decimal, Decimal]:
    row = world.sql(
        "select status, amount_paid, balance_due from public.invoices where id = %s", invoice_id
    )[0]
    return row[0], row[1], row[2]


def pay(api: Api, invoice: Invoice, amount: str | float, who: str = "alice", **fields: Any) -> Any:
    reply = api.post(
        "/api/payments", as_=who, json_body={"invoice_id": invoice.id, "amount": amount, **fields}
    )
    assert reply.status == 201, reply.json()
    return reply.json()


# -- the money flow ------------------------------------------------------------------


def test_partial_then_full_payment_then_delete_moves_the_invoice(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["40.00", "60.10"])

    first = pay(api, invoice, "30.05", payment_method="cash", reference_number="R-1")
    assert first["amount"] == "30.05"  # a decimal string, never a float
    assert first["currency"] == "USD"
    assert first["payment_method"] == "cash"
    assert first["reference_number"] == "R-1"
    # Dated the database's today by default (TODAY, taken when the module was collected, is
    # a day behind on a run that crosses midnight, and local where the database is in UTC).
    assert first["payment_date"] == world.sql("select current_date::text")[0][0]
    assert first["created_by"] == world.people["alice"].id
    assert first["invoice"] == {
        "id": invoice.id,
        "invoice_number": invoice.number,
        "status": "sent",
        "currency": "USD",
        "due_date": (TODAY + timedelta(days=30)).isoformat(),
        "total_amount": "100.10",
        "amount_paid": "30.05",
        "amount_credited": "0.00",
        "balance_due": "70.05",
        "client_id": invoice.client_id,
        "client": {"id": invoice.client_id, "company_name": invoice.client_name},
    }
    assert invoice_state(world, invoice.id) == ("sent", Decimal("30.05"), Decimal("70.05"))

    rest = pay(api, invoice, 70.05)  # a JSON number is accepted, and stays exact
    assert rest["amount"] == "70.05"
    assert rest["invoice"]["status"] == "paid"
    assert rest["invoice"]["amount_paid"] == "100.10"
    assert rest["invoice"]["balance_due"] == "0.00"
    assert invoice_state(world, invoice.id) == ("paid", Decimal("100.10"), Decimal("0.00"))

    reply = api.delete(f"/api/payments/{first['id']}", as_="alice")
    assert reply.status == 204
    assert reply.content == b""
    assert invoice_state(world, invoice.id) == ("sent", Decimal("70.05"), Decimal("30.05"))
    assert api.get(f"/api/payments/{first['id']}", as_="alice").status == 404

    # The client's outstanding balance follows (payments -> invoice -> client).
    outstanding = world.sql(
        "select outstanding_balance from public.clients where id = %s", invoice.client_id
    )[0][0]
    assert outstanding == Decimal("30.05")


def test_removing_the_payment_of_a_past_due_invoice_makes_it_overdue(
    api: Api, world: World
) -> None:
    invoice = make_invoice(
        world,
        ["250.00"],
        issue_date=TODAY - timedelta(days=60),
        due_date=TODAY - timedelta(days=30),
        status="overdue",
    )
    paid = pay(api, invoice, "250")
    assert paid["amount"] == "250.00"
    assert paid["invoice"]["status"] == "paid"
    assert api.delete(f"/api/payments/{paid['id']}", as_="maria").status == 204
    assert invoice_state(world, invoice.id) == ("overdue", Decimal("0.00"), Decimal("250.00"))


def test_update_changes_amount_within_the_balance(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["100.00"])
    payment = pay(api, invoice, "60.00", notes="first note", reference_number="REF")

    reply = api.put(f"/api/payments/{payment['id']}", as_="maria", json_body={"amount": "100"})
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["amount"] == "100.00"
    assert body["notes"] == "first note"  # absent fields stay
    assert body["invoice"]["status"] == "paid"
    assert body["invoice"]["balance_due"] == "0.00"

    reply = api.put(
        f"/api/payments/{payment['id']}",
        as_="maria",
        json_body={
            "amount": "99.99",
            "notes": None,
            "reference_number": "",
            "payment_method": "paypal",
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert (body["amount"], body["notes"], body["reference_number"]) == ("99.99", None, None)
    assert body["payment_method"] == "paypal"
    assert body["invoice"]["status"] == "sent"
    assert body["invoice"]["balance_due"] == "0.01"

    reply = api.put(f"/api/payments/{payment['id']}", as_="maria", json_body={"amount": "100.01"})
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "balance due of 100.00 USD" in reply.error["message"]
    assert invoice_state(world, invoice.id) == ("sent", Decimal("99.99"), Decimal("0.01"))

    reply = api.put(f"/api/payments/{payment['id']}", as_="maria", json_body={"amount": None})
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == "amount"

    reply = api.put(
        f"/api/payments/{payment['id']}", as_="maria", json_body={"invoice_id": invoice.id}
    )
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "invoice_id"

    reply = api.put(f"/api/payments/{payment['id']}", as_="maria", json_body={})
    assert reply.status == 200
    assert reply.json()["amount"] == "99.99"


def test_get_returns_the_payment_with_its_invoice(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["10.00"])
    payment = pay(api, invoice, "4.00", payment_date=(TODAY - timedelta(days=3)).isoformat())
    reply = api.get(f"/api/payments/{payment['id']}", as_="victor")
    assert reply.status == 200
    assert reply.json() == payment


# -- refusals ------------------------------------------------------------------------


def test_overpayment_is_refused_and_writes_nothing(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["100.00"])
    pay(api, invoice, "29.95")
    reply = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": "70.06"}
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "balance due of 70.05 USD" in reply.error["message"]
    assert invoice.number in reply.error["message"]
    assert invoice_state(world, invoice.id) == ("sent", Decimal("29.95"), Decimal("70.05"))
    count = world.sql("select count(*) from public.payments where invoice_id = %s", invoice.id)
    assert count[0][0] == 1

    pay(api, invoice, "70.05")
    reply = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": "0.01"}
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "already paid in full" in reply.error["message"]


def test_concurrent_payments_never_overpay(api: Api, world: World) -> None:
    """Two payments racing for one balance: the invoice is locked, so exactly one wins."""
    for _ in range(3):
        invoice = make_invoice(world, ["100.00"])
        body = {"invoice_id": invoice.id, "amount": "60.00"}
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(api.post, "/api/payments", as_="alice", json_body=body)
                for _ in range(4)
            ]
            replies = [future.result() for future in futures]
        assert sorted(r.status for r in replies) == [201, 422, 422, 422]
        assert invoice_state(world, invoice.id) == ("sent", Decimal("60.00"), Decimal("40.00"))


@pytest.mark.parametrize(
    ("status", "words"),
    [("draft", "is a draft"), ("cancelled", "is cancelled")],
)
def test_drafts_and_cancelled_invoices_take_no_payment(
    api: Api, world: World, status: str, words: str
) -> None:
    invoice = make_invoice(world, ["50.00"], status=status)
    reply = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": "10"}
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert words in reply.error["message"]
    count = world.sql("select count(*) from public.payments where invoice_id = %s", invoice.id)
    assert count[0][0] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e12"}, "amount"),
        ({"amount": "1.0001"}, "amount"),
        ({"payment_date": (TODAY + timedelta(days=5)).isoformat()}, "payment_date"),
        ({"payment_date": "1999-12-31"}, "payment_date"),
        ({"payment_date": "2026-02-30"}, "payment_date"),
        ({"payment_method": "bitcoin"}, "payment_method"),
        ({"reference_number": "x" * 101}, "reference_number"),
        ({"notes": "x" * 2001}, "notes"),
        ({"invoice_id": "not-a-uuid"}, "invoice_id"),
        ({"currency": "EUR"}, "currency"),
    ],
)
def test_bad_payment_input_is_422_with_the_field(
    api: Api, world: World, change: dict[str, Any], field: str
) -> None:
    body = {"invoice_id": str(uuid.uuid4()), "amount": "10.00", **change}
    reply = api.post("/api/payments", as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert [d["field"] for d in reply.error["details"]] == [field]


def test_missing_amount_and_invoice_are_422(api: Api) -> None:
    reply = api.post("/api/payments", as_="alice", json_body={})
    assert reply.status == 422
    assert {d["field"] for d in reply.error["details"]} == {"invoice_id", "amount"}


def test_amount_with_more_decimals_than_the_currency_is_refused(api: Api, world: World) -> None:
    yen = make_invoice(world, ["5000"], currency="JPY")
    reply = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": yen.id, "amount": "10.5"}
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "JPY" in reply.error["message"]
    paid = pay(api, yen, "1500")
    assert paid["amount"] == "1500"
    assert paid["invoice"]["balance_due"] == "3500"

    usd = make_invoice(world, ["10.00"])
    reply = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": usd.id, "amount": "1.005"}
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "decimals" in reply.error["message"]


# -- tenancy and roles -------------------------------------------------------------------


def test_other_organizations_ids_are_not_found(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["80.00"])
    payment = pay(api, invoice, "10.00")

    assert api.get(f"/api/payments/{payment['id']}", as_="bob").status == 404
    reply = api.put(f"/api/payments/{payment['id']}", as_="bob", json_body={"notes": "mine"})
    assert reply.status == 404
    assert reply.error["code"] == "not_found"
    assert api.delete(f"/api/payments/{payment['id']}", as_="bob").status == 404
    reply = api.post(
        "/api/payments", as_="bob", json_body={"invoice_id": invoice.id, "amount": "1"}
    )
    assert reply.status == 404
    assert reply.error["message"] == "invoice not found"
    listed = api.get("/api/payments", as_="bob", query={"invoice_id": invoice.id})
    assert listed.json()["data"] == []

    # Nothing changed for alice.
    assert invoice_state(world, invoice.id) == ("sent", Decimal("10.00"), Decimal("70.00"))
    assert api.get(f"/api/payments/{payment['id']}", as_="alice").json()["notes"] is None

    missing = str(uuid.uuid4())
    assert api.get(f"/api/payments/{missing}", as_="alice").status == 404
    assert api.delete(f"/api/payments/{missing}", as_="alice").status == 404
    reply = api.post("/api/payments", as_="alice", json_body={"invoice_id": missing, "amount": "1"})
    assert reply.status == 404
    assert api.get("/api/payments/not-a-uuid", as_="alice").status == 422


def test_an_invoice_of_another_organization_of_the_same_user_is_not_found(
    api: Api, world: World
) -> None:
    """Maria acts in organization A; an invoice of her own personal organization is
    not payable from A (the organization is explicit, not any she belongs to)."""
    mine = make_invoice(world, ["20.00"], org=world.people["maria"].personal_org)
    reply = api.post(
        "/api/payments",
        as_="maria",
        org=world.org_a,
        json_body={"invoice_id": mine.id, "amount": "5"},
    )
    assert reply.status == 404
    reply = api.post(
        "/api/payments",
        as_="maria",
        org=world.people["maria"].personal_org,
        json_body={"invoice_id": mine.id, "amount": "5"},
    )
    assert reply.status == 201


def test_viewers_read_but_do_not_write(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["30.00"])
    payment = pay(api, invoice, "10.00")
    reply = api.post(
        "/api/payments", as_="victor", json_body={"invoice_id": invoice.id, "amount": "1"}
    )
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"
    assert (
        api.put(f"/api/payments/{payment['id']}", as_="victor", json_body={"notes": "x"}).status
        == 403
    )
    assert api.delete(f"/api/payments/{payment['id']}", as_="victor").status == 403
    assert invoice_state(world, invoice.id) == ("sent", Decimal("10.00"), Decimal("20.00"))
    assert api.get("/api/payments", as_="victor", query={"invoice_id": invoice.id}).status == 200


def test_without_a_token_is_401(api: Api) -> None:
    reply = api.get("/api/payments")
    assert reply.status == 401
    assert reply.error["code"] == "missing_token"


# -- the list ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger(api: Api, world: World) -> dict[str, Any]:
    """One client with two invoices and five payments, another client with one."""
    client = make_client(world, world.org_a)
    big = make_invoice(world, ["1000.00"], client=client)
    small = make_invoice(world, ["100.00"], client=client)
    other = make_invoice(world, ["500.00"])
    days = [TODAY - timedelta(days=n) for n in range(6)]
    made = {
        "a": pay(
            api,
            big,
            "100.00",
            payment_date=days[5].isoformat(),
            payment_method="cash",
            reference_number="WIRE-001",
        ),
        "b": pay(
            api,
            big,
            "250.50",
            payment_date=days[3].isoformat(),
            payment_method="check",
            notes="Cheque 100% cleared",
        ),
        "c": pay(api, big, "99.99", payment_date=days[1].isoformat(), payment_method="cash"),
        "d": pay(
            api,
            small,
            "50.00",
            payment_date=days[1].isoformat(),
            payment_method="credit_card",
            reference_number="card_ref",
        ),
        "e": pay(api, small, "25.00", payment_date=days[0].isoformat(), payment_method="paypal"),
        "z": pay(api, other, "5.00", payment_date=days[2].isoformat(), payment_method="cash"),
    }
    return {"client": client, "big": big, "small": small, "other": other, "days": days, **made}


def _ids(reply: Any) -> list[str]:
    assert reply.status == 200, reply.json()
    return [row["id"] for row in reply.json()["data"]]


def test_list_filters_by_client_and_sorts_by_date(api: Api, ledger: dict[str, Any]) -> None:
    reply = api.get("/api/payments", as_="alice", query={"client_id": ledger["client"][0]})
    # Newest first; of two payments on one day, the later recorded first.
    assert _ids(reply) == [ledger[k]["id"] for k in ("e", "d", "c", "b", "a")]
    body = reply.json()
    assert body["pagination"] == {"page": 1, "page_size": 25, "total": 5, "total_pages": 1}
    first = body["data"][0]
    assert first["invoice"]["invoice_number"] == ledger["small"].number
    assert first["invoice"]["client"]["company_name"] == ledger["client"][1]
    assert first["amount"] == "25.00"


def test_list_filters(api: Api, ledger: dict[str, Any]) -> None:
    big, small = ledger["big"], ledger["small"]
    client = ledger["client"][0]

    def ids(**query: Any) -> set[str]:
        return set(
            _ids(api.get("/api/payments", as_="alice", query={"client_id": client, **query}))
        )

    def of(*keys: str) -> set[str]:
        return {ledger[k]["id"] for k in keys}

    assert ids(invoice_id=big.id) == of("a", "b", "c")
    assert ids(invoice_id=f"{big.id},{small.id}") == of("a", "b", "c", "d", "e")
    assert set(
        _ids(api.get("/api/payments", as_="alice", query={"invoice_id": ledger["other"].id}))
    ) == of("z")
    assert ids(payment_method="cash") == of("a", "c")
    assert ids(payment_method="cash,paypal") == of("a", "c", "e")
    days = ledger["days"]
    assert ids(payment_date_from=days[3].isoformat()) == of("b", "c", "d", "e")
    assert ids(payment_date_to=days[3].isoformat()) == of("a", "b")
    assert ids(payment_date_from=days[3].isoformat(), payment_date_to=days[1].isoformat()) == of(
        "b", "c", "d"
    )
    assert ids(amount_from="99.99") == of("a", "b", "c")
    assert ids(amount_to="50") == of("d", "e")
    assert ids(amount_from="50", amount_to="100") == of("a", "c", "d")
    assert ids(q="wire") == of("a")
    assert ids(q="100%") == of("b")  # % is a character, not a wildcard
    assert ids(q="card_") == of("d")
    assert ids(q="car__ref") == set()  # _ is a character too, not any character
    assert ids(currency="usd") == of("a", "b", "c", "d", "e")
    assert ids(currency="EUR") == set()


def test_list_sorts_and_pages(api: Api, ledger: dict[str, Any]) -> None:
    client = ledger["client"][0]
    reply = api.get("/api/payments", as_="alice", query={"client_id": client, "sort": "amount"})
    assert [row["amount"] for row in reply.json()["data"]] == [
        "25.00",
        "50.00",
        "99.99",
        "100.00",
        "250.50",
    ]
    reply = api.get("/api/payments", as_="alice", query={"client_id": client, "sort": "-amount"})
    assert reply.json()["data"][0]["amount"] == "250.50"

    seen: list[str] = []
    for page in (1, 2, 3):
        reply = api.get(
            "/api/payments",
            as_="alice",
            query={"client_id": client, "sort": "payment_date", "page": page, "page_size": 2},
        )
        body = reply.json()
        assert body["pagination"] == {"page": page, "page_size": 2, "total": 5, "total_pages": 3}
        seen += [row["id"] for row in body["data"]]
    assert len(seen) == 5 == len(set(seen))
    assert seen[0] == ledger["a"]["id"]

    reply = api.get("/api/payments", as_="alice", query={"client_id": client, "page": 9})
    assert reply.status == 200
    assert reply.json()["data"] == []
    assert reply.json()["pagination"]["total"] == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "notes"}, "sort"),
        ({"payment_method": "cash,bitcoin"}, "payment_method"),
        ({"invoice_id": "nope"}, "invoice_id"),
        ({"client_id": "nope"}, "client_id"),
        ({"amount_from": "lots"}, "amount_from"),
        ({"payment_date_from": "yesterday"}, "payment_date_from"),
        ({"payment_date_from": "2026-02-01", "payment_date_to": "2026-01-01"}, "payment_date_from"),
        ({"amount_from": "10", "amount_to": "5"}, "amount_from"),
        ({"page_size": "101"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"currency": "dollars"}, "currency"),
    ],
)
def test_list_refuses_bad_parameters(api: Api, query: dict[str, str], field: str) -> None:
    reply = api.get("/api/payments", as_="alice", query=query)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == field


def test_list_shows_only_the_callers_organization(api: Api, ledger: dict[str, Any]) -> None:
    reply = api.get("/api/payments", as_="bob", query={"page_size": 100})
    assert reply.status == 200
    ours = {ledger[k]["id"] for k in ("a", "b", "c", "d", "e", "z")}
    assert not ours & {row["id"] for row in reply.json()["data"]}


def test_payment_routes_over_http(http_api: Api, world: World) -> None:
    """Through the API Gateway emulator too: status, body and money as strings."""
    invoice = make_invoice(world, ["12.34"])
    reply = http_api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": "12.34"}
    )
    assert reply.status == 201
    assert reply.json()["invoice"]["status"] == "paid"
    assert http_api.delete(f"/api/payments/{reply.json()['id']}", as_="alice").status == 204
