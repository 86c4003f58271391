"""docs/payables.md's walk-through, step by step, as the documented bodies say: purchase
order, receipt and invoice through the JSON imports (matched on import), the importer
(the owner) refused, a second member (an admin) approving, the accounts, a batch, the
pain.001 file valid against the ISO XSD, paid."""

from __future__ import annotations

import uuid
from importlib import resources

import pytest
import xmlschema

from tests.api.conftest import Api, World

# The IBANs are sealed with the KMS envelope (moto's KMS, migration 20261206170200).
pytestmark = pytest.mark.usefixtures("aws")

XSD = resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"


def test_the_documented_walkthrough(any_api: Api, world: World) -> None:
    api = any_api
    if "ada" not in world.people:
        world.add_person("ada", world.org_a, "admin")
    org = world.org_a
    tag = uuid.uuid4().hex[:6]
    vendor_name = f"Atelier Lumière SARL {tag}"

    # 1. The owner imports the purchase order, its receipt and the vendor's invoice.
    po = api.post(
        "/api/reconciliation/purchase-orders",
        as_="alice",
        json_body={
            "purchase_orders": [
                {
                    "po_number": f"PO-77-{tag}",
                    "vendor_name": vendor_name,
                    "currency": "EUR",
                    "lines": [
                        {
                            "item_code": "L-1",
                            "description": "Lamp",
                            "quantity": "10",
                            "unit_price": "120.00",
                        }
                    ],
                }
            ]
        },
    )
    assert po.status == 201, po.json()
    assert len(po.json()["accepted"]) == 1
    receipt = api.post(
        "/api/reconciliation/receipts",
        as_="alice",
        json_body={
            "receipts": [
                {
                    "receipt_number": f"GR-77-{tag}",
                    "po_number": f"PO-77-{tag}",
                    "lines": [{"item_code": "L-1", "quantity_received": "10"}],
                }
            ]
        },
    )
    assert receipt.status == 201, receipt.json()
    invoice_number = f"AL-2026-118-{tag}"
    imported = api.post(
        "/api/reconciliation/invoices",
        as_="alice",
        json_body={
            "invoices": [
                {
                    "vendor_name": vendor_name,
                    "invoice_number": invoice_number,
                    "invoice_date": "2026-12-01",
                    "po_number": f"PO-77-{tag}",
                    "currency": "EUR",
                    "lines": [
                        {
                            "item_code": "L-1",
                            "description": "Lamp",
                            "quantity": "10",
                            "unit_price": "120.00",
                        }
                    ],
                }
            ]
        },
    )
    assert imported.status == 201, imported.json()
    assert imported.json()["matching"]["matched"] == 1, imported.json()
    found = api.get("/api/reconciliation/invoices", as_="alice", query={"q": invoice_number})
    invoice = found.json()["data"][0]["id"]

    # 2. Matched, waiting for the default step.
    steps = api.get(f"/api/payables/approvals/{invoice}", as_="alice").json()
    assert steps["status"] == "matched"
    assert steps["steps"][0]["rule_name"] == "default: one step, any admin"

    # 3. The owner imported it: not in the owner's queue, and refused.
    queue = api.get("/api/payables/approvals", as_="alice", query={"page_size": 200}).json()
    assert invoice not in {i["vendor_invoice_id"] for i in queue["data"]}
    refused = api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice")
    assert refused.status == 403
    assert refused.error["message"] == "separation of duties: you imported this invoice"

    # 4. The colleague (an admin) sees it and approves it.
    theirs = api.get("/api/payables/approvals", as_="ada", org=org, query={"page_size": 200})
    mine = [i for i in theirs.json()["data"] if i["vendor_invoice_id"] == invoice]
    assert [(i["total_amount"], i["step"], i["steps"]) for i in mine] == [("1200.00", 1, 1)]
    approved = api.post(f"/api/payables/approvals/{invoice}/approve", as_="ada", org=org)
    assert approved.json()["status"] == "approved"

    # 5. The accounts.
    settings = api.put(
        "/api/payables/settings",
        as_="alice",
        json_body={
            "debtor_name": "Demo Design Studio",
            "debtor_iban": "DE89 3704 0044 0532 0130 00",
            "debtor_bic": "COBADEFFXXX",
        },
    )
    assert settings.json()["debtor_iban"] == "DE89370400440532013000"
    vendor = api.get(f"/api/reconciliation/invoices/{invoice}", as_="alice").json()["vendor"]["id"]
    account = api.put(
        f"/api/payables/vendors/{vendor}/bank-account",
        as_="alice",
        json_body={"iban": "FR14 2004 1010 0505 0001 3M02 606"},
    )
    assert account.json()["iban"] == "FR1420041010050500013M02606"
    wrong = api.put(
        f"/api/payables/vendors/{vendor}/bank-account",
        as_="alice",
        json_body={"iban": "FR14 2004 1010 0505 0001 3M02 607"},
    )
    assert wrong.status == 422
    assert wrong.error["details"][0]["field"] == "iban"

    # 6. The batch; 7. the file; 8. paid.
    batch = api.post(
        "/api/payables/payment-batches", as_="alice", json_body={"invoice_ids": [invoice]}
    ).json()
    assert batch["status"] == "draft"
    assert batch["totals"] == [{"currency": "EUR", "count": 1, "total": "1200.00"}]
    xml = api.get(
        f"/api/payables/payment-batches/{batch['id']}/export",
        as_="alice",
        query={"format": "pain.001"},
    )
    assert xml.status == 200
    with resources.as_file(XSD) as path:
        xmlschema.XMLSchema(str(path)).validate(xml.content.decode())
    text = xml.content.decode()
    assert "<Ustrd>Invoice AL-2026-118" in text
    assert '<InstdAmt Ccy="EUR">1200.00</InstdAmt>' in text
    paid = api.post(
        f"/api/payables/payment-batches/{batch['id']}/paid",
        as_="alice",
        json_body={"reference": "BANK-2026-12-06-0042"},
    ).json()
    assert (paid["status"], paid["reference"], paid["items"][0]["status"]) == (
        "paid",
        "BANK-2026-12-06-0042",
        "paid",
    )
