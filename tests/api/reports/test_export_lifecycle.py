"""GET /api/reports/export of the billing lifecycle's lists: quotes, credit notes,
refunds, recurring profiles and the client credit ledger, in CSV, XLSX and PDF, each
with the filters of its list route; another organization's rows never in the file.

The organization (lx_owner's; lx_viewer a viewer), made through the API today:
    LX-1 100.00 paid 100, credit note 30 (kind amount): 30 to Alpha's credit
    LX-2  50.00 10 of Alpha's credit applied; 5 of the credit refunded
    LX-3 200.00 paid 200, 40 of that payment refunded
    a draft quote (Beta, 500) and a sent one (Alpha, 120); two recurring profiles
    (Alpha monthly, Beta quarterly, paused)
The ledger: +30 credit_note, -10 applied, -5 refund (sum 15 = Alpha's credit).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl  # type: ignore[import-untyped]
import pytest

from devstack.aws import Provisioned
from tests.api.conftest import Api, World

FORMATS = ("csv", "xlsx", "pdf")
LISTS = ("quotes", "credit-notes", "refunds", "recurring-profiles", "client-credit")


def created(reply: Any) -> dict[str, Any]:
    assert reply.status in (200, 201), reply.json()
    body: dict[str, Any] = reply.json()
    return body


def make_invoice(world: World, org: str, client: str, number: str, *, total: str) -> str:
    today: date = world.sql("select current_date")[0][0]
    invoice_id: str = world.sql(
        "insert into public.invoices (organization_id, client_id, invoice_number, issue_date,"
        " due_date) values (%s, %s, %s, %s, %s) returning id::text",
        org,
        client,
        number,
        today,
        today + timedelta(days=30),
    )[0][0]
    world.sql(
        "insert into public.invoice_items (invoice_id, description, quantity, rate)"
        " values (%s, 'services', 1, %s)",
        invoice_id,
        total,
    )
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice_id)
    return invoice_id


@pytest.fixture(scope="module")
def lx(api: Api, world: World, aws: Provisioned) -> dict[str, str]:
    org = world.add_person("lx_owner").personal_org
    world.add_person("lx_viewer", org, "viewer")
    world.add_person("lx_stranger")
    alpha, beta = (
        world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, 'USD') returning id::text",
            org,
            name,
        )[0][0]
        for name in ("Alpha", "Beta")
    )
    lx1 = make_invoice(world, org, alpha, "LX-1", total="100")
    lx2 = make_invoice(world, org, alpha, "LX-2", total="50")
    lx3 = make_invoice(world, org, beta, "LX-3", total="200")
    who = {"as_": "lx_owner"}
    created(api.post("/api/payments", json_body={"invoice_id": lx1, "amount": "100"}, **who))
    paid = created(api.post("/api/payments", json_body={"invoice_id": lx3, "amount": "200"}, **who))
    created(
        api.post(
            "/api/credit-notes",
            json_body={"invoice_id": lx1, "kind": "amount", "amount": "30", "reason": "damaged"},
            **who,
        )
    )
    created(
        api.post(
            f"/api/clients/{alpha}/credit/apply",
            json_body={"invoice_id": lx2, "amount": "10"},
            **who,
        )
    )
    created(api.post("/api/refunds", json_body={"client_id": alpha, "amount": "5"}, **who))
    created(api.post("/api/refunds", json_body={"payment_id": paid["id"], "amount": "40"}, **who))
    for client, rate in ((beta, "500"), (alpha, "120")):
        quote = created(
            api.post(
                "/api/quotes",
                json_body={
                    "client_id": client,
                    "items": [{"description": "offer", "quantity": "1", "rate": rate}],
                },
                **who,
            )
        )
        if rate == "120":
            world.sql("update public.quotes set status = 'sent' where id = %s", quote["id"])
    for client, frequency in ((alpha, "monthly"), (beta, "quarterly")):
        profile = created(
            api.post(
                "/api/recurring-profiles",
                json_body={
                    "client_id": client,
                    "frequency": frequency,
                    "name": f"{frequency} plan",
                    "items": [{"description": "plan", "quantity": "1", "rate": "99"}],
                },
                **who,
            )
        )
        if frequency == "quarterly":
            created(api.post(f"/api/recurring-profiles/{profile['id']}/pause", **who))
    return {"org": org, "alpha": alpha, "beta": beta, "lx1": lx1, "lx3": lx3}


def exported(api: Api, who: str = "lx_owner", **query: Any) -> tuple[dict[str, Any], bytes]:
    org = api.world.people["lx_owner"].personal_org if who == "lx_viewer" else None
    reply = api.get("/api/reports/export", as_=who, org=org, query=query)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    download = httpx.get(body["url"], timeout=30)
    assert download.status_code == 200, download.text[:300]
    assert len(download.content) == body["bytes"]
    return body, download.content


def rows(api: Api, who: str = "lx_owner", **query: Any) -> list[dict[str, str]]:
    body, content = exported(api, who, format="csv", **query)
    found = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert len(found) == body["rows"]
    return found


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("report", LISTS)
def test_every_list_in_every_format(api: Api, lx: dict[str, str], report: str, fmt: str) -> None:
    body, content = exported(api, "lx_viewer", report=report, format=fmt)
    assert body["report"] == report
    assert body["rows"] > 0
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
        assert sheet.max_row == body["rows"] + 1
    elif fmt == "pdf":
        assert content.startswith(b"%PDF-")


def test_quotes(api: Api, lx: dict[str, str]) -> None:
    found = rows(api, report="quotes")
    assert sorted((r["client_company_name"], r["status"], r["total_amount"]) for r in found) == [
        ("Alpha", "sent", "120.00"),
        ("Beta", "draft", "500.00"),
    ]
    assert [r["status"] for r in rows(api, report="quotes", status="sent")] == ["sent"]
    assert rows(api, report="quotes", q="alph")[0]["client_company_name"] == "Alpha"


def test_credit_notes(api: Api, lx: dict[str, str]) -> None:
    (note,) = rows(api, report="credit-notes")
    assert (note["invoice_number"], note["client_name"], note["kind"]) == (
        "LX-1",
        "Alpha",
        "amount",
    )
    assert (note["total_amount"], note["credit_amount"], note["reason"]) == (
        "30.00",
        "30.00",
        "damaged",
    )
    assert rows(api, report="credit-notes", kind="whole") == []
    assert len(rows(api, report="credit-notes", invoice_id=lx["lx1"])) == 1


def test_refunds(api: Api, lx: dict[str, str]) -> None:
    found = rows(api, report="refunds")
    assert sorted((r["source"], r["amount"], r["invoice_number"]) for r in found) == [
        ("credit", "5.00", ""),
        ("payment", "40.00", "LX-3"),
    ]
    (only,) = rows(api, report="refunds", source="payment")
    assert only["client_name"] == "Beta"
    assert len(rows(api, report="refunds", client_id=lx["alpha"])) == 1


def test_recurring_profiles(api: Api, lx: dict[str, str]) -> None:
    found = rows(api, report="recurring-profiles")
    assert sorted((r["name"], r["status"], r["frequency"]) for r in found) == [
        ("monthly plan", "active", "monthly"),
        ("quarterly plan", "paused", "quarterly"),
    ]
    (active,) = rows(api, report="recurring-profiles", status="active")
    assert active["client_company_name"] == "Alpha"
    assert rows(api, report="recurring-profiles", frequency="annually") == []


def test_the_client_credit_ledger_sums_to_the_balance(
    api: Api, world: World, lx: dict[str, str]
) -> None:
    found = rows(api, report="client-credit")
    assert sorted((r["kind"], r["amount"]) for r in found) == [
        ("applied", "-10.00"),
        ("credit_note", "30.00"),
        ("refund", "-5.00"),
    ]
    (balance,) = world.sql(
        "select balance from public.client_credit_balances where client_id = %s", lx["alpha"]
    )[0]
    assert sum(Decimal(r["amount"]) for r in found) == balance == Decimal("15.00")
    (entry,) = rows(api, report="client-credit", kind="credit_note")
    assert entry["credit_note_number"]
    assert rows(api, report="client-credit", client_id=lx["beta"]) == []


def test_another_organization_exports_none_of_it(api: Api, lx: dict[str, str]) -> None:
    for report in LISTS:
        assert rows(api, "lx_stranger", report=report) == []


@pytest.mark.parametrize(
    ("report", "query", "field"),
    [
        ("quotes", {"status": "paid"}, "status"),
        ("quotes", {"kind": "whole"}, "kind"),
        ("credit-notes", {"kind": "some"}, "kind"),
        ("refunds", {"source": "cash"}, "source"),
        (
            "refunds",
            {"refund_date_from": "2025-02-01", "refund_date_to": "2025-01-01"},
            "refund_date_from",
        ),
        ("recurring-profiles", {"frequency": "hourly"}, "frequency"),
        ("client-credit", {"currency": "dollars"}, "currency"),
        ("client-credit", {"client_id": "nope"}, "client_id"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    api: Api, lx: dict[str, str], report: str, query: dict[str, str], field: str
) -> None:
    reply = api.get(
        "/api/reports/export", as_="lx_owner", query={"report": report, "format": "csv", **query}
    )
    assert reply.status == 422, reply.json()
    assert field in str(reply.json())
