"""Credit notes, refunds and client credit over the routes: the money flow exact to the cent
(an invoice credited in part, a paid invoice credited past its balance, a whole credit note
cancelling a paid invoice, credit applied and refunded, an overpayment kept as credit),
the refusals (above what is left, drafts, bad input naming the field) with nothing
written, and tenancy (another organization's ids are 404, a viewer writing is 403).

Clients and invoices are set up as the superuser; payments, credit notes, refunds and
applications go through the API."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.api.conftest import Api, World
from tests.api.payments.test_payments import Invoice, make_client, make_invoice


def pay(api: Api, invoice: Invoice, amount: str) -> Any:
    reply = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": amount}
    )
    assert reply.status == 201, reply.json()
    return reply.json()


def credit(api: Api, invoice: Invoice, who: str = "alice", **body: Any) -> Any:
    return api.post("/api/credit-notes", as_=who, json_body={"invoice_id": invoice.id, **body})


def state(world: World, invoice: Invoice) -> tuple[Any, ...]:
    return world.sql(
        "select status, amount_paid, amount_credited, balance_due"
        " from public.invoices where id = %s",
        invoice.id,
    )[0]


def client_credit(world: World, client_id: str) -> Decimal:
    rows = world.sql(
        "select coalesce(sum(amount), 0) from public.client_credit_entries where client_id = %s",
        client_id,
    )
    balance = world.sql(
        "select coalesce(max(balance), 0) from public.client_credit_balances where client_id = %s",
        client_id,
    )
    assert rows[0][0] == balance[0][0]  # the ledger and its running balance agree
    return Decimal(rows[0][0])


def outstanding(world: World, client_id: str) -> Decimal:
    return Decimal(
        world.sql("select outstanding_balance from public.clients where id = %s", client_id)[0][0]
    )


def item_ids(world: World, invoice: Invoice) -> list[str]:
    return [
        r[0]
        for r in world.sql(
            "select id::text from public.invoice_items where invoice_id = %s order by rate",
            invoice.id,
        )
    ]


def test_a_credit_note_on_an_open_invoice_lowers_its_balance(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["40.00", "60.00"])
    reply = credit(api, invoice, kind="amount", amount="25.50", reason="damaged goods")
    assert reply.status == 201, reply.json()
    note = reply.json()
    assert note["kind"] == "amount"
    assert note["total_amount"] == "25.50"
    assert note["credit_amount"] == "0.00"
    assert note["reason"] == "damaged goods"
    assert note["credit_note_number"]
    assert [i["amount"] for i in note["items"]] == ["25.50"]
    assert note["invoice"]["balance_due"] == "74.50"
    assert note["invoice"]["amount_credited"] == "25.50"
    assert state(world, invoice) == ("sent", 0, Decimal("25.50"), Decimal("74.50"))
    assert outstanding(world, invoice.client_id) == Decimal("74.50")
    # The invoice answers what was credited (interface 4), in its read and in the list.
    read = api.get(f"/api/invoices/{invoice.id}", as_="victor").json()
    assert (read["amount_credited"], read["balance_due"]) == ("25.50", "74.50")
    row = api.get("/api/invoices", as_="victor", query={"q": invoice.number}).json()["data"][0]
    assert (row["amount_credited"], row["balance_due"]) == ("25.50", "74.50")
    never = make_invoice(world, ["5.00"])
    assert api.get(f"/api/invoices/{never.id}", as_="victor").json()["amount_credited"] == "0.00"
    # Read back, whole and in the list.
    got = api.get(f"/api/credit-notes/{note['id']}", as_="victor")
    assert got.status == 200
    assert got.json() == note | {"invoice": got.json()["invoice"]}
    listed = api.get("/api/credit-notes", as_="victor", query={"invoice_id": invoice.id})
    assert listed.status == 200
    assert [n["id"] for n in listed.json()["data"]] == [note["id"]]
    assert listed.json()["data"][0]["invoice"]["invoice_number"] == invoice.number


def test_credit_past_the_balance_becomes_client_credit(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["100.00"])
    pay(api, invoice, "80.00")
    note = credit(api, invoice, kind="amount", amount="30.00").json()
    # 20.00 of the credit closes the balance; 10.00 of the payment goes to credit.
    assert note["credit_amount"] == "10.00"
    assert state(world, invoice) == ("paid", Decimal("70.00"), Decimal("30.00"), Decimal("0.00"))
    assert client_credit(world, invoice.client_id) == Decimal("10.00")
    assert outstanding(world, invoice.client_id) == 0
    reply = api.get(f"/api/clients/{invoice.client_id}/credit", as_="victor")
    assert reply.status == 200
    body = reply.json()
    assert body["balances"] == [{"currency": "USD", "balance": "10.00"}]
    assert [(e["kind"], e["amount"]) for e in body["entries"]] == [("credit_note", "10.00")]


def test_a_whole_credit_note_cancels_a_paid_invoice(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["60.00"])
    pay(api, invoice, "60.00")
    refused = api.delete(f"/api/invoices/{invoice.id}", as_="alice")
    assert refused.status == 422
    assert "credit note" in refused.error["details"]["hint"]
    note = credit(api, invoice, kind="whole").json()
    assert note["total_amount"] == "60.00"
    assert note["credit_amount"] == "60.00"
    assert note["invoice"]["status"] == "cancelled"
    assert state(world, invoice) == ("cancelled", 0, Decimal("60.00"), 0)
    assert client_credit(world, invoice.client_id) == Decimal("60.00")
    again = credit(api, invoice, kind="amount", amount="1.00")
    assert again.status == 422
    assert "cancelled" in again.error["message"]


def test_credit_by_lines_counts_what_is_left_of_each_line(api: Api, world: World) -> None:
    client = make_client(world, world.org_a)
    invoice = make_invoice(world, ["10.00", "20.00"], client=client)
    cheap, dear = item_ids(world, invoice)
    first = credit(api, invoice, kind="lines", lines=[{"invoice_item_id": cheap, "quantity": "1"}])
    assert first.status == 201, first.json()
    assert first.json()["total_amount"] == "10.00"
    twice = credit(api, invoice, kind="lines", lines=[{"invoice_item_id": cheap, "quantity": "1"}])
    assert twice.status == 422
    assert "not yet credited" in twice.error["message"]
    stranger_item = credit(
        api, invoice, kind="lines", lines=[{"invoice_item_id": str(uuid.uuid4()), "quantity": 1}]
    )
    assert stranger_item.status == 422
    assert state(world, invoice) == ("sent", 0, Decimal("10.00"), Decimal("20.00"))
    last = credit(api, invoice, kind="lines", lines=[{"invoice_item_id": dear, "quantity": "1"}])
    assert last.status == 201
    assert state(world, invoice) == ("cancelled", 0, Decimal("30.00"), 0)


def test_a_credit_above_what_is_left_is_refused_and_writes_nothing(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["50.00"])
    assert credit(api, invoice, kind="amount", amount="20.00").status == 201
    before = world.sql("select count(*) from public.credit_notes where invoice_id = %s", invoice.id)
    reply = credit(api, invoice, kind="amount", amount="30.01")
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "30.00" in reply.error["message"]  # what is left
    above_total = credit(api, invoice, kind="amount", amount="500")
    assert above_total.status == 422
    assert (
        world.sql("select count(*) from public.credit_notes where invoice_id = %s", invoice.id)
        == before
    )
    assert state(world, invoice) == ("sent", 0, Decimal("20.00"), Decimal("30.00"))


def test_drafts_are_not_credited(api: Api, world: World) -> None:
    draft = make_invoice(world, ["10.00"], status="draft")
    reply = credit(api, draft, kind="whole")
    assert reply.status == 422
    assert "draft" in reply.error["message"]


def test_bad_bodies_are_422_naming_the_field(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["10.00"])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "lines"}, "lines"),
        ({"kind": "amount"}, "amount"),
        ({"kind": "whole", "amount": "5"}, "amount"),
        ({"kind": "amount", "amount": "-5"}, "amount"),
        ({"kind": "amount", "amount": "1.005"}, "amount"),
        ({"kind": "everything"}, "kind"),
        ({"kind": "whole", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        reply = credit(api, invoice, **body)
        assert reply.status == 422, (body, reply.json())
        assert field in str(reply.json()), (body, reply.json())
    # decimals finer than the currency: refused by the database, naming the amount
    yen = make_invoice(world, ["1000"], currency="JPY")
    reply = credit(api, yen, kind="amount", amount="10.5")
    assert reply.status == 422
    assert "amount" in reply.error["message"]
    assert state(world, invoice)[2] == 0


def test_tenancy_and_roles(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["10.00"])
    # A viewer reads but does not write.
    assert credit(api, invoice, who="victor", kind="whole").status == 403
    # Another organization's invoice is not found.
    assert credit(api, invoice, who="bob", kind="whole").status == 404
    note = credit(api, invoice, who="maria", kind="amount", amount="1.00").json()
    assert api.get(f"/api/credit-notes/{note['id']}", as_="bob").status == 404
    assert api.get(f"/api/clients/{invoice.client_id}/credit", as_="bob").status == 404
    listed = api.get("/api/credit-notes", as_="bob").json()
    assert note["id"] not in [n["id"] for n in listed["data"]]
    reply = api.post(
        "/api/refunds",
        as_="victor",
        json_body={"client_id": invoice.client_id, "amount": "1.00"},
    )
    assert reply.status == 403
    assert api.get("/api/credit-notes", as_="alice", query={"colour": "red"}).status == 400
    assert api.get("/api/refunds", as_="alice", query={"source": "bank"}).status == 422


def test_apply_credit_and_refund_it(api: Api, world: World) -> None:
    client = make_client(world, world.org_a)
    first = make_invoice(world, ["100.00"], client=client)
    second = make_invoice(world, ["50.00"], client=client)
    pay(api, first, "100.00")
    credit(api, first, kind="amount", amount="40.00")
    assert client_credit(world, client[0]) == Decimal("40.00")

    too_much = api.post(
        f"/api/clients/{client[0]}/credit/apply",
        as_="alice",
        json_body={"invoice_id": second.id, "amount": "40.01"},
    )
    assert too_much.status == 422
    applied = api.post(
        f"/api/clients/{client[0]}/credit/apply",
        as_="alice",
        json_body={"invoice_id": second.id, "amount": "15.00"},
    )
    assert applied.status == 200, applied.json()
    assert applied.json()["client_credit"] == "25.00"
    assert applied.json()["invoice"]["balance_due"] == "35.00"
    assert state(world, second) == ("sent", 0, Decimal("15.00"), Decimal("35.00"))
    assert outstanding(world, client[0]) == Decimal("35.00")

    refund = api.post(
        "/api/refunds", as_="alice", json_body={"client_id": client[0], "amount": "25.00"}
    )
    assert refund.status == 201, refund.json()
    assert refund.json()["source"] == "credit"
    assert client_credit(world, client[0]) == 0
    over = api.post(
        "/api/refunds", as_="alice", json_body={"client_id": client[0], "amount": "0.01"}
    )
    assert over.status == 422
    got = api.get(f"/api/refunds/{refund.json()['id']}", as_="victor")
    assert got.status == 200
    assert got.json()["amount"] == "25.00"
    listed = api.get("/api/refunds", as_="victor", query={"client_id": client[0]}).json()
    assert [r["id"] for r in listed["data"]] == [refund.json()["id"]]


def test_a_refund_from_a_payment_opens_the_invoice_again(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["80.00"])
    payment = pay(api, invoice, "80.00")
    too_much = api.post(
        "/api/refunds", as_="alice", json_body={"payment_id": payment["id"], "amount": "80.01"}
    )
    assert too_much.status == 422
    reply = api.post(
        "/api/refunds", as_="alice", json_body={"payment_id": payment["id"], "amount": "30.00"}
    )
    assert reply.status == 201, reply.json()
    assert reply.json()["invoice"]["status"] == "sent"
    assert reply.json()["payment"]["refunded_amount"] == "30.00"
    read = api.get(f"/api/payments/{payment['id']}", as_="victor").json()
    assert (read["amount"], read["applied_amount"], read["refunded_amount"]) == (
        "80.00",
        "50.00",
        "30.00",
    )
    assert payment["applied_amount"] == "80.00"
    assert payment["refunded_amount"] == "0.00"
    assert state(world, invoice) == ("sent", Decimal("50.00"), 0, Decimal("30.00"))
    # A refunded payment keeps its amount: neither changed nor deleted.
    assert api.delete(f"/api/payments/{payment['id']}", as_="alice").status == 422
    changed = api.put(f"/api/payments/{payment['id']}", as_="alice", json_body={"amount": "10.00"})
    assert changed.status == 422
    both = api.post(
        "/api/refunds",
        as_="alice",
        json_body={"payment_id": payment["id"], "client_id": invoice.client_id, "amount": "1"},
    )
    assert both.status == 422
    assert "client_id" in str(both.json())


def test_overpayment_is_refused_or_kept_as_credit_by_the_setting(api: Api, world: World) -> None:
    invoice = make_invoice(world, ["100.00"])
    refused = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": "120.00"}
    )
    assert refused.status == 422
    assert "balance due" in refused.error["message"]
    world.sql(
        "update public.organization_settings set overpayment = 'credit' where organization_id = %s",
        world.org_a,
    )
    try:
        payment = pay(api, invoice, "120.00")
        assert payment["amount"] == "120.00"
        assert payment["applied_amount"] == "100.00"  # the rest is the client's credit
        assert payment["invoice"]["status"] == "paid"
        assert state(world, invoice) == ("paid", Decimal("100.00"), 0, 0)
        assert client_credit(world, invoice.client_id) == Decimal("20.00")
        # Already paid: a further payment is refused even so.
        assert (
            api.post(
                "/api/payments", as_="alice", json_body={"invoice_id": invoice.id, "amount": "1"}
            ).status
            == 422
        )
    finally:
        world.sql(
            "update public.organization_settings set overpayment = 'refuse'"
            " where organization_id = %s",
            world.org_a,
        )


def test_apply_refuses_another_clients_or_a_paid_invoice(api: Api, world: World) -> None:
    client = make_client(world, world.org_a)
    paid = make_invoice(world, ["10.00"], client=client)
    pay(api, paid, "10.00")
    credit(api, paid, kind="amount", amount="10.00")  # all of it to credit: cancelled
    other = make_invoice(world, ["10.00"])
    reply = api.post(
        f"/api/clients/{client[0]}/credit/apply", as_="alice", json_body={"invoice_id": other.id}
    )
    assert reply.status == 422
    assert "not an invoice of this client" in reply.error["message"]
    reply = api.post(
        f"/api/clients/{client[0]}/credit/apply", as_="alice", json_body={"invoice_id": paid.id}
    )
    assert reply.status == 422
    assert (
        api.post(
            f"/api/clients/{client[0]}/credit/apply",
            as_="victor",
            json_body={"invoice_id": paid.id},
        ).status
        == 403
    )
    assert (
        api.post(
            f"/api/clients/{client[0]}/credit/apply", as_="bob", json_body={"invoice_id": paid.id}
        ).status
        == 404
    )
