"""Attached CSV files are read as what their header row says (the CSV import's column
names): purchase orders and goods receipts through their own import, a batch of each
kind per message imported before its invoices; a file fitting several kinds is
reported, not guessed."""

from __future__ import annotations

import uuid

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from tests.api.conftest import Api, World
from tests.api.email_intake.test_email_intake import allow, fresh, send, vendor_invoices


def test_a_purchase_order_its_receipt_and_the_invoice_in_one_message(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    tag = uuid.uuid4().hex[:6].upper()
    po, receipt, number = f"PO-{tag}", f"GR-{tag}", f"INV-{tag}"
    orders = (
        "PO Number,Supplier,Order Date,Currency,Line,Item Code,Description,Qty,Unit Price\n"
        f"{po},Kind Parts Ltd,2026-11-02,EUR,1,B-1,Bolts,10,2.50\n"
        f"{po},Kind Parts Ltd,2026-11-02,EUR,2,N-1,Nuts,20,0.50\n"
    ).encode()
    receipts = (
        "GRN;PO No;Delivery Date;PO Line;Qty Received\n"
        f"{receipt};{po};2026-11-05;1;10\n"
        f"{receipt};{po};2026-11-05;2;20\n"
    ).encode()
    invoices = (
        "vendor_name,invoice_number,invoice_date,po_number,currency,line_number,item_code,"
        "description,quantity,unit_price\n"
        f"Kind Parts Ltd,{number},2026-11-06,{po},EUR,1,B-1,Bolts,10,2.50\n"
        f"Kind Parts Ltd,{number},2026-11-06,{po},EUR,2,N-1,Nuts,20,0.50\n"
    ).encode()
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="ap@vendor.example",
        # The invoice first: the order of the attachments does not matter.
        attachments=[
            ("invoice.csv", "text/csv", invoices),
            ("order.csv", "text/csv", orders),
            ("receipt.csv", "text/csv", receipts),
        ],
    )
    assert got["status"] == "imported"
    found = {
        a["filename"]: (
            a["outcome"],
            a["document_kind"],
            len(a["vendor_invoice_ids"]),
            len(a["purchase_order_ids"]),
            len(a["goods_receipt_ids"]),
        )
        for a in got["attachments"]
    }
    assert found == {
        "invoice.csv": ("imported", "vendor_invoices", 1, 0, 0),
        "order.csv": ("imported", "purchase_orders", 0, 1, 0),
        "receipt.csv": ("imported", "goods_receipts", 0, 0, 1),
    }
    by_name = {a["filename"]: a for a in got["attachments"]}
    for name, kind in (("order.csv", "purchase_orders"), ("receipt.csv", "goods_receipts")):
        batch = api.get(
            f"/api/reconciliation/imports/{by_name[name]['import_batch_id']}", as_=who
        ).json()
        assert (batch["kind"], batch["source"], batch["status"], batch["rows_accepted"]) == (
            kind,
            "email",
            "completed",
            2,
        )
    assert by_name["invoice.csv"]["import_batch_id"] == got["import_batch_id"]
    [purchase_order] = api.get(
        "/api/reconciliation/purchase-orders", as_=who, query={"q": po}
    ).json()["data"]
    assert purchase_order["id"] == by_name["order.csv"]["purchase_order_ids"][0]
    [invoice] = vendor_invoices(api, who, number)
    assert invoice["status"] == "matched"  # its PO and receipt came in the same message


def test_an_ambiguous_csv_file_is_reported_not_guessed(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    tag = uuid.uuid4().hex[:6].upper()
    both = (
        "PO Number,Receipt Number,Supplier,Currency,Qty,Unit Price\n"
        f"PO-{tag},GR-{tag},Somebody,EUR,1,2.00\n"
    ).encode()
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="ap@vendor.example",
        attachments=[("export.csv", "text/csv", both)],
    )
    [attachment] = got["attachments"]
    assert (attachment["kind"], attachment["outcome"]) == ("csv", "ambiguous")
    assert attachment["document_kind"] is None
    assert "purchase orders (" in attachment["message"]
    assert "receipts (" in attachment["message"]
    orders = api.get("/api/reconciliation/purchase-orders", as_=who, query={"q": f"PO-{tag}"})
    assert orders.json()["data"] == []
