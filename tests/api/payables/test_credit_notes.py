"""Vendor credit notes through the API (the handler in process and HTTP through the
emulator): a UBL credit note imported as an e-invoice becomes the vendor's credit note, is
applied at once to the approved invoice it refers to, no further than that invoice's
total (the rest stays available); a member applies and unapplies it, a viewer reads it,
a stranger and the anonymous reach nothing; the payment batch pays the net and its
pain.001 (valid against the ISO XSD) and CSV say so. The SQL rules are pgTAP's
(supabase/tests/994-vendor-credit-notes.sql)."""

from __future__ import annotations

import base64
import csv
import io
from decimal import Decimal
from importlib import resources

import pytest
import xmlschema

from tests.api.conftest import Api, World
from tests.api.payables.test_approvals import DEBTOR_IBAN, VENDOR_IBAN, XSD, _matched_invoice
from tests.einvoice.read_fixtures import FixtureInvoice, FixtureLine, ubl

pytestmark = pytest.mark.usefixtures("aws")


def _credit_note(number: str, seller: str, refers: str | None, qty: str = "2") -> bytes:
    """A UBL CreditNote of ``seller`` for qty x 10.00 at 19 % (2: 23.80), referring to
    invoice ``refers`` (BT-25)."""
    data = ubl(
        FixtureInvoice(
            number=number,
            seller_name=seller,
            po_number=None,
            lines=[FixtureLine("W", "Returned widgets", qty, "10.00")],
        ),
        credit_note=True,
    )
    return data.replace(b"<cbc:ID>RE-1</cbc:ID>", f"<cbc:ID>{refers or 'NONE-0'}</cbc:ID>".encode())


def _import(api: Api, who: str, *files: tuple[str, bytes]) -> dict[str, object]:
    reply = api.post(
        "/api/reconciliation/einvoices",
        as_=who,
        json_body={
            "documents": [
                {"file_name": name, "content": base64.b64encode(data).decode()}
                for name, data in files
            ]
        },
    )
    assert reply.status == 201, reply.json()
    body: dict[str, object] = reply.json()
    return body


def _vendor_name(world: World, vendor: str) -> str:
    return str(world.sql("select name from public.vendors where id = %s", vendor)[0][0])


def test_a_credit_note_reduces_what_the_batch_pays(any_api: Api, world: World) -> None:
    api = any_api
    assert (
        api.put(
            "/api/payables/settings",
            as_="alice",
            json_body={"debtor_name": "Credit Co", "debtor_iban": DEBTOR_IBAN},
        ).status
        == 200
    )
    # Two approved invoices of one vendor, 100.0 EUR each (maria imported, alice approved).
    first, vendor = _matched_invoice(world, api, importer="maria", qty=8)
    number = world.sql("select invoice_number from public.vendor_invoices where id = %s", first)
    assert api.post(f"/api/payables/approvals/{first}/approve", as_="alice").status == 200
    bank = api.put(
        f"/api/payables/vendors/{vendor}/bank-account", as_="alice", json_body={"iban": VENDOR_IBAN}
    )
    assert bank.status == 200, bank.json()
    name = _vendor_name(world, vendor)

    # The vendor's credit note of 23.80 refers to the first invoice: applied to it at once.
    report = _import(api, "maria", ("cn-1.xml", _credit_note("CN-1", name, number[0][0])))
    assert report["accepted"][0]["label"] == f"credit note CN-1 of {name}"  # type: ignore[index]
    assert report["matching"] is None  # a credit note is never matched
    listed = api.get("/api/payables/credit-notes", as_="victor", query={"vendor_id": vendor})
    assert listed.status == 200, listed.json()
    [note] = listed.json()["data"]
    assert (note["credit_note_number"], note["total_amount"], note["status"]) == (
        "CN-1",
        "23.80",
        "applied",
    )
    assert note["vendor_invoice_id"] == first
    detail = api.get(f"/api/payables/credit-notes/{note['id']}", as_="victor").json()
    assert [
        (a["vendor_invoice_id"], a["amount"], a["automatic"]) for a in detail["applications"]
    ] == [(first, "23.80", True)]
    assert [line["description"] for line in detail["lines"]] == ["Returned widgets"]
    assert detail["invoice"]["id"] == first
    assert world.sql(
        "select count(*) from public.vendor_invoices where organization_id = %s"
        " and invoice_number = 'CN-1'",
        world.org_a,
    ) == [(0,)]

    # A second, larger credit note (119.00) referring to nothing: applied by a member to
    # the first invoice, no further than what is left of it (100.0 - 23.80 = 76.20).
    _import(api, "maria", ("cn-2.xml", _credit_note("CN-2", name, None, qty="10")))
    big = api.get("/api/payables/credit-notes", as_="maria", query={"status": "open"}).json()
    big_id = next(n["id"] for n in big["data"] if n["credit_note_number"] == "CN-2")
    too_much = api.post(
        f"/api/payables/credit-notes/{big_id}/apply",
        as_="maria",
        json_body={"vendor_invoice_id": first, "amount": "80.00"},
    )
    assert too_much.status == 422
    assert "cannot make a transfer negative" in too_much.error["message"]
    applied = api.post(
        f"/api/payables/credit-notes/{big_id}/apply",
        as_="maria",
        json_body={"vendor_invoice_id": first},
    )
    assert applied.status == 200, applied.json()
    assert (applied.json()["applied_amount"], applied.json()["available_amount"]) == (
        "76.20",
        "42.80",
    )
    assert applied.json()["status"] == "partially_applied"

    # The batch pays the net: the first invoice is settled by credit (0.00), the second
    # pays 100.0 less 42.80 of CN-2's rest.
    second, _ = _matched_invoice(world, api, importer="maria", qty=8)
    world.sql("update public.vendor_invoices set vendor_id = %s where id = %s", vendor, second)
    world.sql("update public.vendor_invoices set status = 'approved' where id = %s", second)
    rest = api.post(
        f"/api/payables/credit-notes/{big_id}/apply",
        as_="maria",
        json_body={"vendor_invoice_id": second},
    )
    assert rest.status == 200, rest.json()
    assert rest.json()["status"] == "applied"
    batch = api.post(
        "/api/payables/payment-batches", as_="alice", json_body={"invoice_ids": [first, second]}
    )
    assert batch.status == 201, batch.json()
    assert [(t["currency"], Decimal(t["total"])) for t in batch.json()["totals"]] == [
        ("EUR", Decimal("57.20"))
    ]
    items = {i["vendor_invoice_id"]: i for i in batch.json()["items"]}
    assert Decimal(items[first]["amount"]) == 0
    assert [c["credit_note_number"] for c in items[first]["credit_notes"]] == ["CN-1", "CN-2"]
    assert Decimal(items[second]["amount"]) == Decimal("57.20")

    xml = api.get(f"/api/payables/payment-batches/{batch.json()['id']}/export", as_="victor")
    assert xml.status == 200, xml.json()
    with resources.as_file(XSD) as path:
        xmlschema.XMLSchema(str(path)).validate(xml.content.decode())
    text = xml.content.decode()
    assert "<NbOfTxs>1</NbOfTxs>" in text  # the settled invoice is no transfer
    assert '<InstdAmt Ccy="EUR">57.20</InstdAmt>' in text
    assert "less credit note CN-2 42.80" in text
    table = api.get(
        f"/api/payables/payment-batches/{batch.json()['id']}/export",
        as_="victor",
        query={"format": "csv"},
    )
    rows = {r["vendor_invoice_id"]: r for r in csv.DictReader(io.StringIO(table.content.decode()))}
    assert (Decimal(rows[second]["amount"]), rows[second]["credit_notes"]) == (
        Decimal("57.20"),
        "CN-2:42.80",
    )

    # Before payment a member unapplies; once paid, the credit is final.
    undone = api.post(
        f"/api/payables/credit-notes/{big_id}/unapply",
        as_="maria",
        json_body={"vendor_invoice_id": second},
    )
    assert undone.status == 200, undone.json()
    assert undone.json()["available_amount"] == "42.80"
    paid = api.post(
        f"/api/payables/payment-batches/{batch.json()['id']}/paid",
        as_="alice",
        json_body={"reference": "BANK-CN-1"},
    )
    assert paid.status == 200, paid.json()
    final = api.post(
        f"/api/payables/credit-notes/{big_id}/unapply",
        as_="maria",
        json_body={"vendor_invoice_id": first},
    )
    assert final.status == 422
    assert "paid" in final.error["message"]
    audit = world.sql(
        "select operation from public.audit_log where table_name ="
        " 'public.vendor_credit_applications' and coalesce(new_record, old_record) ->>"
        " 'vendor_credit_note_id' = %s order by id",
        big_id,
    )
    assert [row[0] for row in audit] == ["INSERT", "INSERT", "DELETE"]


def test_who_may_read_and_apply_credit_notes(any_api: Api, world: World) -> None:
    api = any_api
    invoice, vendor = _matched_invoice(world, api, importer="maria", qty=4)
    assert api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice").status == 200
    name = _vendor_name(world, vendor)
    _import(api, "maria", ("cn-w.xml", _credit_note("CN-W", name, None)))
    note = world.sql(
        "select id::text from public.vendor_credit_notes where organization_id = %s"
        " and credit_note_number = 'CN-W' and vendor_id = %s",
        world.org_a,
        vendor,
    )[0][0]
    path = f"/api/payables/credit-notes/{note}/apply"
    body = {"vendor_invoice_id": invoice}
    assert api.post(path, as_="victor", json_body=body).status == 403
    assert api.get(f"/api/payables/credit-notes/{note}", as_="bob").status in (403, 404)
    assert api.post(path, as_="bob", json_body=body, org=world.org_b).status == 404
    assert api.post(path, as_=None, json_body=body).status == 401
    unknown = api.post(path, as_="maria", json_body={**body, "percent": 5})
    assert unknown.status == 422
    assert unknown.error["code"] == "validation_failed"
    for wrong in (
        {},
        {"vendor_invoice_id": "nope"},
        {**body, "amount": "-1"},
        {**body, "amount": "x"},
    ):
        reply = api.post(path, as_="maria", json_body=wrong)
        assert reply.status == 422, (wrong, reply.json())
    missing = api.post(
        path, as_="maria", json_body={"vendor_invoice_id": "00000000-0000-4000-8000-000000000000"}
    )
    assert missing.status == 404
    bad_status = api.get("/api/payables/credit-notes", as_="maria", query={"status": "void"})
    assert bad_status.status == 422
    # Nothing was applied by any refused call.
    assert world.sql(
        "select applied_amount::text from public.vendor_credit_notes where id = %s", note
    ) == [("0",)]
