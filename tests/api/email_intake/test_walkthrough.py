"""Issue 20's "Done means", as docs/payables.md's walk-through "Invoices in by email" runs
it on `make dev`, over HTTP: an email with a UBL invoice and a PDF arrives (dropped into
the inbound bucket as SES stores it; the bucket's notification runs the worker); the UBL
one matches its purchase order, the PDF one waits as a draft; the matched one is approved
by a second member (the one who forwarded it cannot), goes into a payment batch, and the
pain.001 file validates against the ISO XSD."""

from __future__ import annotations

import uuid
from importlib import resources

import xmlschema

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from tests.api.conftest import Api, World
from tests.api.email_intake.helpers import address, by_message_id, deliver, drop, message, text_pdf
from tests.api.reconciliation.test_einvoice_import import purchase_order
from tests.einvoice.read_fixtures import FixtureInvoice, ubl

XSD = resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"


def test_an_email_with_a_ubl_invoice_and_a_pdf_to_the_bank_file(
    http_api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    api = http_api
    tag = uuid.uuid4().hex[:6]
    dana = f"dana-{tag}"
    world.add_person(dana)
    org = world.people[dana].personal_org
    cole = f"cole-{tag}"
    world.add_person(cole, org, "admin")
    po, number = f"PO-{tag}", f"RE-{tag}"

    # 0. Dana's purchase order and its receipt; her organization's inbound address.
    purchase_order(api, dana, po, "Lieferant Werkzeuge GmbH")
    inbox = address(api, dana)

    # 1. Dana forwards the vendor's email: a UBL invoice and a PDF invoice from another vendor.
    mid = f"<{tag}@mail.example>"
    raw = message(
        to=inbox,
        sender=f"Dana <{world.people[dana].email}>",
        subject="Fwd: Rechnung und Beleg",
        message_id=mid,
        attachments=[
            ("invoice.xml", "application/xml", ubl(FixtureInvoice(number=number, po_number=po))),
            (
                "receipt.pdf",
                "application/pdf",
                text_pdf([
                    "Café Lumière",
                    f"Invoice No: CL-{tag}",
                    "Invoice date: 2026-11-30",
                    "Total: 42.50 EUR",
                ]),
            ),
        ],
    )  # fmt: skip
    drop(aws, raw)
    assert deliver(function_host, aws) == []

    # 2. One batch for the message, a result per attachment.
    got = by_message_id(api, dana, mid)
    assert got["status"] == "imported"
    assert got["imported_by"] == world.people[dana].id
    outcomes = [(a["filename"], a["kind"], a["outcome"]) for a in got["attachments"]]
    assert outcomes == [
        ("invoice.xml", "einvoice", "imported"),
        ("receipt.pdf", "pdf", "draft"),
    ]

    # 3. The UBL invoice matched its purchase order; the PDF one waits as a draft.
    [invoice] = api.get("/api/reconciliation/invoices", as_=dana, query={"q": number}).json()[
        "data"
    ]
    assert invoice["status"] == "matched", invoice
    assert invoice["id"] == got["attachments"][0]["vendor_invoice_ids"][0]
    drafts = api.get("/api/payables/inbound/drafts", as_=dana).json()["data"]
    assert [(d["invoice_number"], d["total_amount"]) for d in drafts] == [(f"CL-{tag}", "42.50")]

    # 4. Dana forwarded it, so she imported it: she cannot approve; Cole (an admin) does.
    refused = api.post(f"/api/payables/approvals/{invoice['id']}/approve", as_=dana)
    assert refused.status == 403
    assert refused.error["message"] == "separation of duties: you imported this invoice"
    approved = api.post(f"/api/payables/approvals/{invoice['id']}/approve", as_=cole, org=org)
    assert approved.status == 200, approved.json()
    assert approved.json()["status"] == "approved"

    # 5. The accounts, the batch and the bank file.
    settings = api.put(
        "/api/payables/settings",
        as_=dana,
        json_body={
            "debtor_name": "Demo Design Studio",
            "debtor_iban": "DE89 3704 0044 0532 0130 00",
            "debtor_bic": "COBADEFFXXX",
        },
    )
    assert settings.status == 200, settings.json()
    vendor = api.get(f"/api/reconciliation/invoices/{invoice['id']}", as_=dana).json()["vendor"]
    account = api.put(
        f"/api/payables/vendors/{vendor['id']}/bank-account",
        as_=dana,
        json_body={"iban": "DE02 1203 0000 0000 2020 51"},
    )
    assert account.status == 200, account.json()
    batch = api.post(
        "/api/payables/payment-batches", as_=dana, json_body={"invoice_ids": [invoice["id"]]}
    )
    assert batch.status in (200, 201), batch.json()
    total = invoice["total_amount"]
    assert batch.json()["totals"] == [{"currency": "EUR", "count": 1, "total": total}]
    xml = api.get(
        f"/api/payables/payment-batches/{batch.json()['id']}/export",
        as_=dana,
        query={"format": "pain.001"},
    )
    assert xml.status == 200
    with resources.as_file(XSD) as path:
        xmlschema.XMLSchema(str(path)).validate(xml.content.decode())
    assert f'<InstdAmt Ccy="EUR">{total}</InstdAmt>' in xml.content.decode()
    assert f"Invoice {number}" in xml.content.decode()
