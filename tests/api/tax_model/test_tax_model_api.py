"""The tax model through the API (docs/api.md, "Tax per line"): lines' categories, rates
and exemption reasons in and out, the documents' references, tax_breakdown in the
answers of invoices, quotes, credit notes and recurring profiles, and the 422s naming
the line and EN 16931's rule."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, World


def new_client(world: World, currency: str = "EUR") -> str:
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " values (%s, %s, %s, %s) returning id::text",
        world.org_a,
        f"Tax client {uuid.uuid4().hex[:8]}",
        currency,
        "tax@client.test",
    )
    return str(rows[0][0])


LINES: list[dict[str, Any]] = [
    {"description": "Consulting", "quantity": "3", "rate": "120"},
    {"description": "Books", "quantity": "2", "rate": "19.99", "tax_rate": "7"},
    {
        "description": "Installation abroad",
        "quantity": "1",
        "rate": "80",
        "vat_category": "AE",
        "tax_exemption_reason_code": "VATEX-EU-AE",
        "tax_exemption_reason": "Reverse charge",
    },
]


def _breakdown(document: dict[str, Any]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (
            g["vat_category"],
            Decimal(g["tax_rate"]),
            Decimal(g["allowance_amount"]),
            Decimal(g["tax_amount"]),
        )
        for g in document["tax_breakdown"]
    ]


def test_invoice_round_trip(api: Api, world: World) -> None:
    body = {
        "client_id": new_client(world),
        "tax_rate": "19",
        "discount": "12.34",
        "buyer_reference": "04011000-12345-34",
        "purchase_order_reference": "PO-2026-7",
        "items": LINES,
    }
    reply = api.post("/api/invoices", as_="alice", json_body=body)
    assert reply.status == 201, reply.json()
    made = reply.json()
    assert [(i["vat_category"], Decimal(i["tax_rate"])) for i in made["items"]] == [
        ("S", Decimal(19)),
        ("S", Decimal(7)),
        ("AE", Decimal(0)),
    ]
    assert made["items"][2]["tax_exemption_reason_code"] == "VATEX-EU-AE"
    assert _breakdown(made) == [
        ("AE", Decimal(0), Decimal("2.05"), Decimal("0.00")),
        ("S", Decimal(7), Decimal("1.03"), Decimal("2.73")),
        ("S", Decimal(19), Decimal("9.26"), Decimal("66.64")),
    ]
    assert (made["tax_amount"], made["total_amount"]) == ("69.37", "537.01")
    assert made["buyer_reference"] == "04011000-12345-34"
    assert made["purchase_order_reference"] == "PO-2026-7"
    assert isinstance(made["tax_breakdown"][0]["taxable_amount"], str)  # money as text

    got = api.get(f"/api/invoices/{made['id']}", as_="victor")
    assert got.status == 200
    assert got.json()["tax_breakdown"] == made["tax_breakdown"]
    assert got.json()["items"] == made["items"]

    # A patch moves one line to another category; the totals follow.
    change = {
        "items_mode": "patch",
        "items": [{"id": made["items"][1]["id"], "vat_category": "Z", "tax_rate": "0"}],
        "purchase_order_reference": None,
    }
    reply = api.put(f"/api/invoices/{made['id']}", as_="alice", json_body=change)
    assert reply.status == 200, reply.json()
    changed = reply.json()
    assert changed["items"][1]["vat_category"] == "Z"
    assert changed["purchase_order_reference"] is None
    assert sum(Decimal(g["tax_amount"]) for g in changed["tax_breakdown"]) == Decimal(
        changed["tax_amount"]
    )
    assert Decimal(changed["tax_amount"]) < Decimal(made["tax_amount"])


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            {"vat_category": "AE"},
            "items[1].tax_exemption_reason",
            "required for category AE (BR-AE-10)",
        ),
        ({"vat_category": "K", "tax_rate": "19"}, "items[1].tax_rate", "(BR-IC-05)"),
        ({"vat_category": "S", "tax_rate": "0"}, "items[1].tax_rate", "(BR-S-05)"),
        (
            {"vat_category": "S", "tax_exemption_reason": "why"},
            "items[1].tax_exemption_reason",
            "not allowed for category S (BR-S-10)",
        ),
        ({"vat_category": "X"}, "items[1].vat_category", ""),
        ({"tax_exemption_reason_code": "exempt"}, "items[1].tax_exemption_reason_code", ""),
        ({"vat_rate": "7"}, "items[1].vat_rate", ""),
    ],
)
def test_bad_lines_are_422_naming_the_line_and_rule(
    api: Api, world: World, line: dict[str, Any], field: str, message: str
) -> None:
    body = {
        "client_id": new_client(world),
        "tax_rate": "19",
        "items": [LINES[0], {"description": "Bad", "quantity": "1", "rate": "1", **line}],
    }
    for path in ("/api/invoices", "/api/quotes"):
        reply = api.post(path, as_="alice", json_body=body)
        assert reply.status == 422, reply.json()
        error = reply.error
        assert error["code"] == "validation_failed"
        assert error["details"][0]["field"] == field, error
        assert message in error["message"], error


def test_standard_line_needs_a_rate_somewhere(api: Api, world: World) -> None:
    body = {
        "client_id": new_client(world),
        "tax_rate": "0",
        "items": [{"description": "A", "quantity": "1", "rate": "1", "vat_category": "S"}],
    }
    reply = api.post("/api/invoices", as_="alice", json_body=body)
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "items[0].tax_rate"
    assert "BR-S-05" in reply.error["message"]


def test_quote_converts_with_its_lines_and_references(api: Api, world: World) -> None:
    body = {
        "client_id": new_client(world),
        "tax_rate": "19",
        "discount": "12.34",
        "buyer_reference": "LW-1",
        "items": LINES,
    }
    reply = api.post("/api/quotes", as_="alice", json_body=body)
    assert reply.status == 201, reply.json()
    quote = reply.json()
    assert _breakdown(quote)[2] == ("S", Decimal(19), Decimal("9.26"), Decimal("66.64"))
    assert quote["items"][2]["vat_category"] == "AE"
    sent = api.request(
        "PATCH", f"/api/quotes/{quote['id']}", as_="alice", json_body={"status": "sent"}
    )
    assert sent.status == 200, sent.json()
    assert api.post(f"/api/quotes/{quote['id']}/accept", as_="maria").status == 200
    converted = api.post(f"/api/quotes/{quote['id']}/convert", as_="maria")
    assert converted.status in (200, 201), converted.json()
    invoice = converted.json()["invoice"]
    assert invoice["tax_breakdown"] == quote["tax_breakdown"]
    assert invoice["buyer_reference"] == "LW-1"
    assert invoice["total_amount"] == quote["total_amount"]

    # A credit note of the whole invoice has its breakdown and references.
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice["id"])
    note = api.post(
        "/api/credit-notes", as_="alice", json_body={"invoice_id": invoice["id"], "kind": "whole"}
    )
    assert note.status == 201, note.json()
    credit = note.json()
    assert credit["tax_breakdown"] == invoice["tax_breakdown"]
    assert credit["buyer_reference"] == "LW-1"
    assert [i["vat_category"] for i in credit["items"]] == ["S", "S", "AE"]
    again = api.get(f"/api/credit-notes/{credit['id']}", as_="victor")
    assert again.json()["tax_breakdown"] == credit["tax_breakdown"]


def test_recurring_profile_keeps_its_lines_tax(api: Api, world: World) -> None:
    body = {
        "client_id": new_client(world),
        "frequency": "monthly",
        "tax_rate": "19",
        "purchase_order_reference": "PO-R",
        "items": [
            {"description": "Hosting", "quantity": "1", "rate": "100"},
            {"description": "Paper", "quantity": "1", "rate": "20", "tax_rate": "7"},
        ],
    }
    reply = api.post("/api/recurring-profiles", as_="alice", json_body=body)
    assert reply.status == 201, reply.json()
    profile = reply.json()
    assert [Decimal(i["tax_rate"]) for i in profile["items"]] == [Decimal(19), Decimal(7)]
    assert profile["purchase_order_reference"] == "PO-R"
    issued = api.post(f"/api/recurring-profiles/{profile['id']}/issue", as_="alice")
    assert issued.status in (200, 201), issued.json()
    invoice = issued.json()["invoice"]
    assert invoice["purchase_order_reference"] == "PO-R"
    assert [g["tax_rate"] for g in invoice["tax_breakdown"]] == ["7", "19"]
    assert invoice["tax_amount"] == "20.40"  # 19.00 + 1.40
