"""Payables through the API (the handler in process and HTTP through the emulator): an
invoice imported by one member and matched waits for approval; the importer cannot approve
it, a second member (here the owner) can; rules by amount band with two steps and nobody
deciding both; reject with a reason; reassign; the queue; payment batches (totals per
currency, paid with a reference, cancelled) and their bank files, pain.001 validated
against the official XSD and CSV; bad input answered 4xx naming the field. The rules
themselves, path by path, are pgTAP's (supabase/tests/900-approvals.sql)."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import xmlschema

from tests.api.conftest import Api, World

# The IBANs are sealed with the KMS envelope (moto's KMS, migration 20261206170200).
pytestmark = pytest.mark.usefixtures("aws")

XSD = resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"
DEBTOR_IBAN = "DE89370400440532013000"
VENDOR_IBAN = "FR1420041010050500013M02606"


def _matched_invoice(
    world: World, api: Api, *, importer: str = "maria", currency: str = "EUR", qty: int = 10
) -> tuple[str, str]:
    """A vendor with a received PO and an invoice of it that ``importer`` created, matched:
    (invoice id, vendor id)."""
    org = world.org_a
    tag = uuid.uuid4().hex[:8]
    vendor = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, %s) returning id::text",
        org,
        f"Payee {tag}",
    )[0][0]
    po = world.sql(
        "insert into public.purchase_orders (organization_id, vendor_id, po_number, currency)"
        " values (%s, %s, %s, %s) returning id::text",
        org,
        vendor,
        f"PPO-{tag}",
        currency,
    )[0][0]
    line = world.sql(
        "insert into public.purchase_order_lines (organization_id, purchase_order_id, currency,"
        " line_number, item_code, description, quantity, unit_price)"
        " values (%s, %s, %s, 1, 'W', 'Widget', 1000, 12.5) returning id::text",
        org,
        po,
        currency,
    )[0][0]
    receipt = world.sql(
        "insert into public.goods_receipts (organization_id, purchase_order_id, receipt_number)"
        " values (%s, %s, %s) returning id::text",
        org,
        po,
        f"PGR-{tag}",
    )[0][0]
    world.sql(
        "insert into public.goods_receipt_lines (organization_id, goods_receipt_id,"
        " purchase_order_line_id, quantity_received) values (%s, %s, %s, 1000)",
        org,
        receipt,
        line,
    )
    amount = Decimal(qty) * Decimal("12.5")
    invoice = world.sql(
        "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
        " invoice_number, invoice_date, po_number, currency, subtotal, total_amount, created_by)"
        " values (%s, %s, %s, %s, current_date, %s, %s, %s, %s, %s) returning id::text",
        org,
        vendor,
        f"Payee {tag}",
        f"PINV-{tag}",
        f"PPO-{tag}",
        currency,
        amount,
        amount,
        world.people[importer].id,
    )[0][0]
    world.sql(
        "insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency,"
        " line_number, item_code, description, quantity, unit_price, amount)"
        " values (%s, %s, %s, 1, 'W', 'Widget', %s, 12.5, %s)",
        org,
        invoice,
        currency,
        qty,
        amount,
    )
    reply = api.post(
        "/api/reconciliation/match", as_=importer, json_body={"invoice_ids": [invoice]}
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["matched"] == 1, reply.json()
    return str(invoice), str(vendor)


@pytest.fixture(scope="module")
def admin(world: World) -> str:
    """An admin of organization A besides alice (the owner)."""
    if "ada" not in world.people:
        world.add_person("ada", world.org_a, "admin")
    return "ada"


def test_the_importer_cannot_approve_a_second_member_can(any_api: Api, world: World) -> None:
    invoice, _ = _matched_invoice(world, any_api, importer="maria")
    steps = any_api.get(f"/api/payables/approvals/{invoice}", as_="maria").json()
    assert steps["status"] == "matched"
    assert [(s["step"], s["status"], s["approver_role"]) for s in steps["steps"]] == [
        (1, "pending", "admin")
    ]
    assert steps["steps"][0]["rule_name"] == "default: one step, any admin"

    refused = any_api.post(f"/api/payables/approvals/{invoice}/approve", as_="maria")
    assert refused.status == 403, refused.json()
    assert refused.error["code"] == "forbidden"
    queue = any_api.get("/api/payables/approvals", as_="alice", query={"page_size": 200})
    assert queue.status == 200, queue.json()
    assert invoice in {i["vendor_invoice_id"] for i in queue.json()["data"]}

    approved = any_api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice")
    assert approved.status == 200, approved.json()
    body = approved.json()
    assert body["status"] == "approved"
    assert body["steps"][0]["decided_by"] == world.people["alice"].id
    again = any_api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice")
    assert again.status == 422
    assert again.error["code"] == "rule_violation"
    audit = world.sql(
        "select count(*) from public.audit_log where table_name = 'public.vendor_invoice_approvals'"
        " and record_id = %s::uuid and operation = 'UPDATE'",
        body["steps"][0]["id"],
    )
    assert audit == [(1,)]


def test_a_member_step_the_importer_still_cannot_take(api: Api, world: World, admin: str) -> None:
    """A rule naming the member role: maria is a member but imported the invoice."""
    rule = api.post(
        "/api/payables/approval-rules",
        as_=admin,
        org=world.org_a,
        json_body={
            "name": "GBP: two members",
            "priority": 5000,
            "currency": "GBP",
            "min_amount": "100",
            "max_amount": 100000,
            "steps": [{"approver_role": "member"}, {"approver_role": "member"}],
        },
    )
    assert rule.status == 201, rule.json()
    assert rule.json()["min_amount"] == "100"
    try:
        invoice, _ = _matched_invoice(world, api, importer="maria", currency="GBP")
        steps = api.get(f"/api/payables/approvals/{invoice}", as_="alice").json()["steps"]
        assert [(s["step"], s["status"]) for s in steps] == [(1, "pending"), (2, "waiting")]
        refused = api.post(f"/api/payables/approvals/{invoice}/approve", as_="maria")
        assert refused.status == 403
        assert "separation of duties: you imported this invoice" in refused.error["message"]
        first = api.post(f"/api/payables/approvals/{invoice}/approve", as_=admin, org=world.org_a)
        assert first.json()["status"] == "matched"
        twice = api.post(f"/api/payables/approvals/{invoice}/approve", as_=admin, org=world.org_a)
        assert twice.status == 403
        assert "already decided a step" in twice.error["message"]
        last = api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice")
        assert last.json()["status"] == "approved"
    finally:
        api.delete(f"/api/payables/approval-rules/{rule.json()['id']}", as_=admin, org=world.org_a)


def test_reject_needs_a_reason_and_reassign_a_member(api: Api, world: World, admin: str) -> None:
    invoice, _ = _matched_invoice(world, api, importer="maria", qty=3)
    no_reason = api.post(f"/api/payables/approvals/{invoice}/reject", as_="alice", json_body={})
    assert no_reason.status == 422
    assert "reason" in no_reason.error["message"]
    blank = api.post(
        f"/api/payables/approvals/{invoice}/reject", as_="alice", json_body={"reason": " "}
    )
    assert blank.status == 422
    assert blank.error["details"][0]["field"] == "reason"

    to_importer = api.post(
        f"/api/payables/approvals/{invoice}/reassign",
        as_="alice",
        json_body={"member": world.people["maria"].id},
    )
    assert to_importer.status == 422, to_importer.json()
    assert "imported" in to_importer.error["message"]
    not_uuid = api.post(
        f"/api/payables/approvals/{invoice}/reassign", as_="alice", json_body={"member": "x"}
    )
    assert not_uuid.status == 422
    assert not_uuid.error["details"][0]["field"] == "member"
    moved = api.post(
        f"/api/payables/approvals/{invoice}/reassign",
        as_="alice",
        json_body={"member": world.people[admin].id},
    )
    assert moved.status == 200, moved.json()
    assert moved.json()["steps"][0]["approvers"] == [world.people[admin].id]
    owner_now = api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice")
    assert owner_now.status == 403  # the step is the admin's now
    rejected = api.post(
        f"/api/payables/approvals/{invoice}/reject",
        as_=admin,
        org=world.org_a,
        json_body={"reason": "not ours"},
    )
    assert rejected.status == 200, rejected.json()
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["steps"][0]["reason"] == "not ours"


def test_a_changed_approved_invoice_goes_back(api: Api, world: World) -> None:
    invoice, _ = _matched_invoice(world, api, importer="maria", qty=4)
    assert api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice").status == 200
    # The invoice's lines and total change (one statement each): it leaves approval at the
    # first and is matched again when its matching is asked for.
    qty = Decimal(5)
    world.sql(
        "update public.vendor_invoice_lines set quantity = %s, amount = %s"
        " where vendor_invoice_id = %s",
        qty,
        qty * Decimal("12.5"),
        invoice,
    )
    world.sql(
        "update public.vendor_invoices set subtotal = %s, total_amount = %s where id = %s",
        qty * Decimal("12.5"),
        qty * Decimal("12.5"),
        invoice,
    )
    assert world.sql("select status from public.vendor_invoices where id = %s", invoice) != [
        ("approved",)
    ]
    rematched = api.post(
        "/api/reconciliation/match", as_="maria", json_body={"invoice_ids": [invoice]}
    )
    assert rematched.json()["matched"] == 1, rematched.json()
    steps = api.get(f"/api/payables/approvals/{invoice}", as_="alice").json()
    assert steps["status"] == "matched"
    assert [(s["round"], s["status"]) for s in steps["steps"]] == [(2, "pending"), (1, "approved")]


def test_payment_batch_and_its_bank_files(any_api: Api, world: World, admin: str) -> None:
    api = any_api
    settings = api.put(
        "/api/payables/settings",
        as_="alice",
        json_body={"debtor_name": "Victim Co", "debtor_iban": "de89 3704 0044 0532 0130 00"},
    )
    assert settings.status == 200, settings.json()
    assert settings.json()["debtor_iban"] == DEBTOR_IBAN
    eur, vendor = _matched_invoice(world, api, importer="maria", qty=8)
    usd, _ = _matched_invoice(world, api, importer="maria", currency="USD", qty=2)
    for invoice in (eur, usd):
        assert api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice").status == 200
    bank = api.put(
        f"/api/payables/vendors/{vendor}/bank-account",
        as_="maria",
        json_body={"iban": VENDOR_IBAN.lower()},
    )
    assert bank.status == 200, bank.json()
    assert bank.json()["iban"] == VENDOR_IBAN

    member = api.post(
        "/api/payables/payment-batches", as_="maria", json_body={"invoice_ids": [eur]}
    )
    assert member.status == 403
    mixed = api.post(
        "/api/payables/payment-batches",
        as_=admin,
        org=world.org_a,
        json_body={"invoice_ids": [eur, usd]},
    )
    assert mixed.status == 201, mixed.json()
    batch = mixed.json()
    assert [(t["currency"], t["count"], t["total"]) for t in batch["totals"]] == [
        ("EUR", 1, "100.0"),
        ("USD", 1, "25.0"),
    ]
    twice = api.post(
        "/api/payables/payment-batches",
        as_=admin,
        org=world.org_a,
        json_body={"invoice_ids": [eur]},
    )
    assert twice.status == 422
    assert "already in a payment batch" in twice.error["message"]

    sepa = api.get(f"/api/payables/payment-batches/{batch['id']}/export", as_="victor")
    assert sepa.status == 422
    assert "USD" in sepa.error["message"]
    table = api.get(
        f"/api/payables/payment-batches/{batch['id']}/export", as_="victor", query={"format": "csv"}
    )
    assert table.status == 200
    rows = list(csv.DictReader(io.StringIO(table.content.decode())))
    assert sorted(r["currency"] for r in rows) == ["EUR", "USD"]

    cancelled = api.post(
        f"/api/payables/payment-batches/{batch['id']}/cancel", as_=admin, org=world.org_a
    )
    assert cancelled.json()["status"] == "cancelled"
    only_eur = api.post(
        "/api/payables/payment-batches",
        as_=admin,
        org=world.org_a,
        json_body={"invoice_ids": [eur]},
    ).json()
    xml = api.get(f"/api/payables/payment-batches/{only_eur['id']}/export", as_="victor")
    assert xml.status == 200, xml.json()
    assert xml.headers["content-type"].startswith("application/xml")
    with resources.as_file(XSD) as path:
        xmlschema.XMLSchema(str(path)).validate(xml.content.decode())
    assert VENDOR_IBAN in xml.content.decode()

    no_reference = api.post(
        f"/api/payables/payment-batches/{only_eur['id']}/paid",
        as_=admin,
        org=world.org_a,
        json_body={},
    )
    assert no_reference.status == 422
    assert "reference" in no_reference.error["message"]
    paid = api.post(
        f"/api/payables/payment-batches/{only_eur['id']}/paid",
        as_=admin,
        org=world.org_a,
        json_body={"reference": "BANK-REF-1"},
    )
    assert paid.status == 200, paid.json()
    assert paid.json()["status"] == "paid"
    assert paid.json()["items"][0]["status"] == "paid"
    listed = api.get("/api/payables/payment-batches", as_="victor", query={"status": "paid"})
    assert only_eur["id"] in {b["id"] for b in listed.json()["data"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/api/payables/approval-rules",
            {"name": "x", "priority": 1, "steps": []},
            "steps",
        ),
        (
            "POST",
            "/api/payables/approval-rules",
            {"name": "x", "priority": 1, "steps": [{"approver_role": "viewer"}]},
            "approver_role",
        ),
        (
            "POST",
            "/api/payables/approval-rules",
            {"name": "x", "priority": 0, "steps": [{"approver_role": "admin"}]},
            "priority",
        ),
        (
            "POST",
            "/api/payables/approval-rules",
            {
                "name": "x",
                "priority": 9,
                "min_amount": "abc",
                "steps": [{"approver_role": "admin"}],
            },
            "min_amount",
        ),
        ("PUT", "/api/payables/settings", {"debtor_iban": "DE00370400440532013000"}, "debtor_iban"),
        ("PUT", "/api/payables/settings", {"debtor_bic": "NOTABIC!"}, "debtor_bic"),
        ("POST", "/api/payables/payment-batches", {"invoice_ids": ["nope"]}, "invoice_ids"),
        ("POST", "/api/payables/payment-batches", {"invoice_ids": []}, "invoice_ids"),
        (
            "POST",
            "/api/payables/payment-batches",
            {"invoice_ids": [str(uuid.uuid4())], "execution_date": "2001-01-01"},
            "execution_date",
        ),
    ],
)
def test_bad_input_names_the_field(
    api: Api, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    reply = api.request(method, path, as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    text = str(reply.error)
    assert field in text, text


def test_queue_paging_and_bad_parameters(api: Api) -> None:
    assert api.get("/api/payables/approvals", as_="alice", query={"page_size": 0}).status == 422
    assert api.get("/api/payables/approvals", as_="alice", query={"after": "x"}).status == 422
    stray = api.get("/api/payables/approvals", as_="alice", query={"after": str(uuid.uuid4())})
    assert stray.status == 422
    assert "after" in stray.error["message"]
    page = api.get("/api/payables/approvals", as_="victor").json()
    assert page == {"data": [], "page_size": 50, "next_after": None}


def test_unknown_ids_are_404(api: Api) -> None:
    missing = str(uuid.uuid4())
    for method, path in (
        ("GET", f"/api/payables/approvals/{missing}"),
        ("POST", f"/api/payables/approvals/{missing}/approve"),
        ("GET", f"/api/payables/payment-batches/{missing}"),
        ("GET", f"/api/payables/payment-batches/{missing}/export"),
        ("POST", f"/api/payables/payment-batches/{missing}/cancel"),
        ("DELETE", f"/api/payables/approval-rules/{missing}"),
    ):
        reply = api.request(method, path, as_="alice")
        assert reply.status == 404, (path, reply.json())
