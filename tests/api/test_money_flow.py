"""Money end to end, over both ways in (handler and HTTP): a client, an invoice with
awkward numbers, a partial payment, a refused overpayment, the rest, a deleted payment —
every total checked exactly, as decimal strings."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.api.conftest import Api, World


def _invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/invoices/{invoice_id}", as_="maria")
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def _money(invoice: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        invoice["total_amount"],
        invoice["amount_paid"],
        invoice["balance_due"],
        invoice["status"],
    )


def test_create_pay_partially_pay_the_rest_delete_a_payment(any_api: Api, world: World) -> None:
    # Dates relative to today: due in a month, so the invoice stays sent (not overdue)
    # whatever day the test runs; the payments a few days back.
    today = date.today()
    name = f"Money flow {uuid.uuid4().hex[:6]}"
    client = any_api.post(
        "/api/clients",
        as_="maria",
        json_body={"company_name": name, "email": "ap@example.com", "currency": "USD"},
    )
    assert client.status == 201, client.json()
    client_id = client.json()["id"]

    created = any_api.post(
        "/api/invoices",
        as_="maria",
        json_body={
            "client_id": client_id,
            "issue_date": (today - timedelta(days=5)).isoformat(),
            "due_date": (today + timedelta(days=30)).isoformat(),
            "status": "sent",
            "tax_rate": "8.875",
            "discount": "5.00",
            "items": [
                {"description": "Consulting", "quantity": "3", "rate": "33.335"},
                {"description": "Stamp", "quantity": 1, "rate": "0.10"},
            ],
        },
    )
    assert created.status == 201, created.json()
    invoice = created.json()
    # 3 x 33.335 = 100.005 -> 100.01 (half up); + 0.10 = 100.11; less 5.00 = 95.11;
    # tax 8.875 % of 95.11 = 8.4410125 -> 8.44; total 103.55.
    assert [i["amount"] for i in invoice["items"]] == ["100.01", "0.10"]
    assert (invoice["subtotal"], invoice["tax_amount"]) == ("100.11", "8.44")
    assert _money(invoice) == ("103.55", "0.00", "103.55", "sent")
    invoice_id = invoice["id"]

    first = any_api.post(
        "/api/payments",
        as_="maria",
        json_body={
            "invoice_id": invoice_id,
            "amount": "50.00",
            "payment_date": (today - timedelta(days=4)).isoformat(),
        },
    )
    assert first.status == 201, first.json()
    assert _money(_invoice(any_api, invoice_id)) == ("103.55", "50.00", "53.55", "sent")

    too_much = any_api.post(
        "/api/payments",
        as_="maria",
        json_body={
            "invoice_id": invoice_id,
            "amount": "53.56",
            "payment_date": (today - timedelta(days=3)).isoformat(),
        },
    )
    assert too_much.status == 422, too_much.json()
    assert too_much.error["code"] == "rule_violation"
    assert _money(_invoice(any_api, invoice_id)) == ("103.55", "50.00", "53.55", "sent")

    rest = any_api.post(
        "/api/payments",
        as_="maria",
        json_body={
            "invoice_id": invoice_id,
            "amount": "53.55",
            "payment_date": (today - timedelta(days=2)).isoformat(),
        },
    )
    assert rest.status == 201, rest.json()
    paid = _invoice(any_api, invoice_id)
    assert _money(paid) == ("103.55", "103.55", "0.00", "paid")
    assert sorted(Decimal(p["amount"]) for p in paid["payments"]) == [
        Decimal("50.00"),
        Decimal("53.55"),
    ]

    first_id = first.json()["payment"]["id"] if "payment" in first.json() else first.json()["id"]
    removed = any_api.delete(f"/api/payments/{first_id}", as_="maria")
    assert removed.status in (200, 204), removed.json()
    after = _invoice(any_api, invoice_id)
    assert _money(after) == ("103.55", "53.55", "50.00", "sent")
    assert [p["amount"] for p in after["payments"]] == ["53.55"]

    # The client's derived totals follow, to the cent.
    totals = any_api.get(f"/api/clients/{client_id}", as_="maria").json()
    assert (totals["total_billed"], totals["outstanding_balance"]) == ("103.55", "50.00")
    # And the database agrees with what the API said.
    assert world.sql(
        "select total_amount::text, amount_paid::text, balance_due::text, status"
        " from public.invoices where id = %s",
        invoice_id,
    ) == [("103.55", "53.55", "50.00", "sent")]
