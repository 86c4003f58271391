"""Reconciliation import (docs/api.md, "Reconciliation: import"): CSV files through the
presigned S3 upload and the S3-triggered worker (against moto, the sample files of
tests/data), and the JSON imports, over both ways in."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from devstack.queues import pollers
from tests.api.conftest import Api, World

DATA = Path(__file__).resolve().parents[2] / "data"
WORKER = "reconciliationImportWorker"


def fresh(world: World) -> str:
    """A new person with an organization of their own (owner): imports start clean."""
    name = f"recon-{uuid.uuid4().hex[:8]}"
    world.add_person(name)
    return name


def s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    """What S3 (and moto's notifications) deliver for an upload: the key URL-encoded."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-01T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "reconciliationImportWorker",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": "x"},
                },
            }
        ]
    }


def upload(
    api: Api,
    aws: Provisioned,
    who: str,
    kind: str,
    *,
    data: bytes,
    file_name: str,
    **options: Any,
) -> tuple[str, dict[str, Any]]:
    """POST the upload request, PUT the file to the presigned URL; returns the batch id
    and the S3 event the upload produces."""
    reply = api.post(
        "/api/reconciliation/imports",
        as_=who,
        json_body={"kind": kind, "file_name": file_name, **options},
    )
    assert reply.status == 201, reply.json()
    body = reply.json()
    assert body["batch"]["status"] == "awaiting_upload"
    put = httpx.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
    assert put.status_code == 200, put.text
    return body["batch"]["id"], s3_event(aws.uploads_bucket, body["upload"]["key"], len(data))


def run_worker(host: FunctionHost, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = host.invoke_by_name(WORKER, event)
    return result


def import_file(
    api: Api,
    aws: Provisioned,
    host: FunctionHost,
    who: str,
    *,
    kind: str,
    name: str,
    **options: Any,
) -> dict[str, Any]:
    data = (DATA / name).read_bytes()
    batch_id, event = upload(api, aws, who, kind, data=data, file_name=name, **options)
    result = run_worker(host, event)
    assert result["records"] == 1
    outcome: dict[str, Any] = result["results"][0]
    assert outcome["batch_id"] == batch_id
    return outcome


def batch(api: Api, who: str, batch_id: str, **query: Any) -> dict[str, Any]:
    reply = api.get(f"/api/reconciliation/imports/{batch_id}", as_=who, query=query)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def matching_deployed(world: World) -> bool:
    rows = world.sql(
        "select to_regprocedure('public.match_vendor_invoices(uuid, uuid[])') is not null"
    )
    return bool(rows[0][0])


# ---------------------------------------------------------------------------------------
# CSV through S3


def test_csv_files_import_end_to_end(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org

    pos = import_file(
        api, aws, function_host, who, kind="purchase_orders", name="recon_purchase_orders.tsv"
    )
    assert (pos["outcome"], pos["rows_total"], pos["rows_accepted"]) == ("completed", 5, 5)
    receipts = import_file(
        api, aws, function_host, who, kind="goods_receipts", name="recon_receipts.csv"
    )
    assert (receipts["outcome"], receipts["rows_accepted"], receipts["rows_rejected"]) == (
        "completed",
        4,
        0,
    )
    us = import_file(
        api, aws, function_host, who, kind="vendor_invoices", name="recon_invoices_us.csv"
    )
    assert (us["outcome"], us["rows_total"], us["rows_accepted"]) == ("completed", 4, 4)
    eu = import_file(
        api, aws, function_host, who, kind="vendor_invoices", name="recon_invoices_eu.csv"
    )
    assert (eu["outcome"], eu["rows_total"], eu["rows_accepted"]) == ("completed", 4, 4)
    assert (us["matching"] is not None) == matching_deployed(world)

    # How each file was read, recorded on its batch.
    us_batch = batch(api, who, us["batch_id"])
    eu_batch = batch(api, who, eu["batch_id"])
    assert (us_batch["date_order"], us_batch["decimal_mark"]) == ("mdy", ".")
    assert (eu_batch["date_order"], eu_batch["decimal_mark"]) == ("dmy", ",")
    assert us_batch["source"] == "csv"
    assert us_batch["errors"]["data"] == []
    assert us_batch["file_name"] == "recon_invoices_us.csv"

    invoices = {
        row[0]: row[1:]
        for row in world.sql(
            "select i.invoice_number, i.invoice_date::text, i.due_date::text, i.currency,"
            " i.subtotal, i.tax_amount, i.total_amount, v.name"
            " from public.vendor_invoices i left join public.vendors v on v.id = i.vendor_id"
            " where i.organization_id = %s",
            org,
        )
    }
    assert invoices["INV-5001"] == (
        "2026-12-15",
        "2027-01-14",
        "USD",
        Decimal("1500.00"),
        Decimal("120.00"),
        Decimal("1620.00"),
        "ACME Corp.",  # the vendor the PO import created, resolved by its normalized name
    )
    assert invoices["INV-77"][0] == "2026-12-03"  # "Dec 3, 2026"
    assert invoices["INV-77"][5] == Decimal("9200.00")  # "9,200.00"
    assert invoices["X-1"][-1] is None  # Initech LLC: an unknown vendor stays unknown
    assert invoices["RE-2026-001"][:6] == (
        "2026-12-31",  # 31.12.2026
        None,
        "EUR",
        Decimal("256.00"),  # 1.000 x 0,12 + 40 x 3,40
        Decimal("48.84"),
        Decimal("304.84"),
    )
    assert invoices["RE-2026-001"][6] == "Müller GmbH"  # UTF-8 with a BOM
    assert invoices["F-889"][0] == "2026-12-05"  # 05/12/2026, day first in this file
    assert invoices["F-889"][3] == Decimal("1234.56")  # "1 234,56"
    assert invoices["F-890"][2] == "EUR"  # "eur"

    lines = world.sql(
        "select l.description, l.quantity, l.unit_price, l.amount"
        " from public.vendor_invoice_lines l"
        " join public.vendor_invoices i on i.id = l.vendor_invoice_id"
        " where i.organization_id = %s and i.invoice_number = 'RE-2026-001'"
        " order by l.line_number",
        org,
    )
    assert lines == [
        ("Schraube M6; verzinkt", Decimal("1000"), Decimal("0.12"), Decimal("120.00")),
        ("Kabel 3m", Decimal("40"), Decimal("3.40"), Decimal("136.00")),
    ]

    # The purchase orders, with what was received of each line.
    listed = api.get("/api/reconciliation/purchase-orders", as_=who, query={"sort": "po_number"})
    assert listed.status == 200, listed.json()
    orders = listed.json()["data"]
    assert [o["po_number"] for o in orders] == ["PO-1001", "PO-1002", "PO-1003"]
    assert orders[1]["vendor"]["name"] == "Müller GmbH"
    detail = api.get(f"/api/reconciliation/purchase-orders/{orders[1]['id']}", as_=who).json()
    assert [
        (line["item_code"], line["quantity"], line["quantity_received"]) for line in detail["lines"]
    ] == [
        ("S-1", "1000", "1000"),
        ("K-2", "50", "40"),
    ]
    assert [r["receipt_number"] for r in detail["receipts"]] == ["GR-9002"]

    imports = api.get("/api/reconciliation/imports", as_=who, query={"kind": "vendor_invoices"})
    assert imports.status == 200
    assert imports.json()["pagination"]["total"] == 2
    assert {b["id"] for b in imports.json()["data"]} == {us["batch_id"], eu["batch_id"]}


def test_csv_with_errors_accept_valid_rows_reports_every_rejected_row(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    outcome = import_file(
        api,
        aws,
        function_host,
        who,
        kind="vendor_invoices",
        name="recon_invoices_errors.csv",
        policy="accept_valid_rows",
    )
    assert (outcome["outcome"], outcome["rows_total"]) == ("completed", 11)
    assert (outcome["rows_accepted"], outcome["rows_rejected"]) == (2, 9)
    stored = world.sql(
        "select invoice_number from public.vendor_invoices where organization_id = %s"
        " order by invoice_number",
        org,
    )
    assert stored == [("H-101",), ("PP-6",)]

    first = batch(api, who, outcome["batch_id"], page_size=4)
    assert first["errors"]["pagination"]["total"] == 9
    assert [e["row"] for e in first["errors"]["data"]] == [1, 2, 4, 5]
    errors = first["errors"]["data"]
    for number in (2, 3):
        errors += batch(api, who, outcome["batch_id"], page=number, page_size=4)["errors"]["data"]
    by_row = {e["row"]: e for e in errors}
    assert sorted(by_row) == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert by_row[2]["column"] == "line_number"
    assert "appears twice in invoice H-100 of Hooli" in by_row[2]["message"]
    assert "not imported with the rest of invoice H-100" in by_row[1]["message"]
    assert by_row[4]["column"] == "invoice_date"
    assert by_row[4]["value"] == "2026-13-01"
    assert "not a valid date" in by_row[4]["message"]
    assert "ISO 4217" in by_row[5]["message"]
    assert by_row[6]["message"] == "invoice_number is required"
    assert "negative" in by_row[7]["message"]
    assert "must agree" in by_row[9]["message"]
    assert "more decimals than USD allows" in by_row[10]["message"]
    assert first["error"] == "2 of 11 rows were imported; the others have errors"


def test_csv_with_errors_all_or_nothing_stores_nothing(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    outcome = import_file(
        api, aws, function_host, who, kind="vendor_invoices", name="recon_invoices_errors.csv"
    )
    assert (outcome["outcome"], outcome["rows_accepted"], outcome["rows_rejected"]) == (
        "rejected",
        0,
        11,
    )
    assert world.sql(
        "select count(*) from public.vendor_invoices where organization_id = %s", org
    ) == [(0,)]
    detail = batch(api, who, outcome["batch_id"])
    assert detail["status"] == "rejected"
    assert detail["error"].startswith("nothing was imported: 7 of 11 rows have errors")
    # Only the rows that are wrong are reported (their neighbours need no excuse here).
    assert [e["row"] for e in detail["errors"]["data"]] == [2, 4, 5, 6, 7, 9, 10]


def test_csv_without_required_columns_is_rejected_whole(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    data = b"Vendor;Invoice No;Qty\nACME;1;2\nACME;2;3\n"
    batch_id, event = upload(
        api,
        aws,
        who,
        "vendor_invoices",
        data=data,
        file_name="short.csv",
        policy="accept_valid_rows",
    )
    assert run_worker(function_host, event)["results"][0]["outcome"] == "rejected"
    detail = batch(api, who, batch_id)
    assert (detail["rows_total"], detail["rows_rejected"]) == (2, 2)
    assert detail["error"] == (
        "nothing was imported: the header has no invoice_date column (also accepted: "
        "invoicedate, date, invdate, billdate)"
    )
    assert [(e["row"], e["column"]) for e in detail["errors"]["data"]] == [
        (0, "invoice_date"),
        (0, "currency"),
        (0, "unit_price"),
    ]
    empty_id, empty = upload(api, aws, who, "purchase_orders", data=b"\n\n", file_name="e.csv")
    assert run_worker(function_host, empty)["results"][0]["outcome"] == "rejected"
    assert batch(api, who, empty_id)["error"] == "nothing was imported: the file is empty"


def test_redelivered_event_imports_nothing_twice(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    data = (DATA / "recon_purchase_orders.tsv").read_bytes()
    batch_id, event = upload(api, aws, who, "purchase_orders", data=data, file_name="orders.tsv")
    first = run_worker(function_host, event)
    assert first["results"][0]["outcome"] == "completed"
    again = run_worker(function_host, event)
    assert again["results"][0] == {
        "key": f"{org}/imports/{batch_id}/orders.tsv.csv",
        "outcome": "skipped",
        "status": "completed",
    }
    assert world.sql(
        "select count(*) from public.purchase_orders where organization_id = %s", org
    ) == [(3,)]
    assert batch(api, who, batch_id)["rows_accepted"] == 5


def test_worker_trusts_the_batch_not_the_key(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    # A key under an organization's prefix that no batch has, and another bucket.
    stray = f"{world.org_b}/imports/{uuid.uuid4()}/x.csv"
    result = run_worker(function_host, s3_event(aws.uploads_bucket, stray, 10))
    assert result["results"][0]["outcome"] == "skipped"
    other = run_worker(function_host, s3_event(aws.exports_bucket, stray, 10))
    assert other["results"][0]["outcome"] == "ignored"
    # A file deleted before the worker ran fails its batch with a reason.
    data = (DATA / "recon_receipts.csv").read_bytes()
    batch_id, event = upload(api, aws, who, "goods_receipts", data=data, file_name="gone.csv")
    key = event["Records"][0]["s3"]["object"]["key"]
    import boto3  # noqa: PLC0415 (the test's own client)

    boto3.client("s3", endpoint_url=aws.endpoint, region_name="us-east-1").delete_object(
        Bucket=aws.uploads_bucket, Key=key
    )
    failed = run_worker(function_host, event)
    assert failed["results"][0]["outcome"] == "failed"
    detail = batch(api, who, batch_id)
    assert detail["status"] == "failed"
    assert detail["error"] == "the uploaded file could not be read; upload it again"
    # A file over the limit is not read at all.
    batch_id, event = upload(api, aws, who, "goods_receipts", data=data, file_name="big.csv")
    event["Records"][0]["s3"]["object"]["size"] = 11 * 1024 * 1024
    assert run_worker(function_host, event)["results"][0]["outcome"] == "failed"
    assert batch(api, who, batch_id)["error"] == "the file is 11.0 MB; at most 10 MB per import"


def test_upload_request_names_a_safe_key_and_refuses_bad_input(
    any_api: Api, aws: Provisioned, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    reply = any_api.post(
        "/api/reconciliation/imports",
        as_=who,
        json_body={"kind": "vendor_invoices", "file_name": "Déc invoices (final).CSV", "size": 120},
    )
    assert reply.status == 201, reply.json()
    body = reply.json()
    batch_id = body["batch"]["id"]
    assert body["upload"]["key"] == f"{org}/imports/{batch_id}/Dec_invoices_final_.CSV"
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["headers"] == {"Content-Type": "text/csv"}
    assert "X-Amz-Signature=" in body["upload"]["url"]
    assert body["batch"]["file_name"] == "Déc invoices (final).CSV"
    assert body["batch"]["policy"] == "all_or_nothing"
    for wrong in (
        {"kind": "payments", "file_name": "x.csv"},
        {"kind": "vendor_invoices", "file_name": ""},
        {"kind": "vendor_invoices", "file_name": "x.csv", "policy": "best_effort"},
        {"kind": "vendor_invoices", "file_name": "x.csv", "size": 20 * 1024 * 1024},
        {"kind": "vendor_invoices", "file_name": "x.csv", "extra": 1},
    ):
        refused = any_api.post("/api/reconciliation/imports", as_=who, json_body=wrong)
        assert refused.status == 422, (wrong, refused.json())
        assert refused.error["code"] == "validation_failed"


# ---------------------------------------------------------------------------------------
# JSON


def _invoice(
    number: str, quantity: Any = "2", vendor: str = "Hooli", **extra: Any
) -> dict[str, Any]:
    return {
        "vendor_name": vendor,
        "invoice_number": number,
        "invoice_date": "2026-12-01",
        "currency": "USD",
        "lines": [{"description": "Phone", "quantity": quantity, "unit_price": "300.00"}],
        **extra,
    }


def test_json_invoices_accept_valid_rows(any_api: Api, world: World) -> None:
    who = fresh(world)
    reply = any_api.post(
        "/api/reconciliation/invoices",
        as_=who,
        json_body={
            "policy": "accept_valid_rows",
            "invoices": [
                _invoice("H-1", tax_amount=48, po_number="PO-9"),
                _invoice("H-2", quantity="two"),
                _invoice("h 1", vendor="HOOLI INC"),
                _invoice("H-3", invoice_date="31/12/2026"),
                _invoice("H-4", unknown="x"),
            ],
        },
    )
    assert reply.status == 201, reply.json()
    body = reply.json()
    assert reply.headers["location"] == f"/api/reconciliation/imports/{body['batch']['id']}"
    assert [a["index"] for a in body["accepted"]] == [0]
    assert body["accepted"][0]["label"] == "invoice H-1 of Hooli"
    rejected = {r["index"]: r for r in body["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert rejected[1]["field"] == "invoices[1].lines[0].quantity"
    assert "is not a decimal number" in rejected[1]["message"]
    assert rejected[2]["field"] == "invoices[2].invoice_number"
    assert "appears twice in this import (first at index 0)" in rejected[2]["message"]
    assert rejected[3]["field"] == "invoices[3].invoice_date"
    assert rejected[4]["field"] == "invoices[4].unknown"
    assert body["batch"]["source"] == "api"
    assert (body["batch"]["rows_total"], body["batch"]["rows_accepted"]) == (5, 1)
    rows = world.sql(
        "select subtotal, tax_amount, total_amount, po_number from public.vendor_invoices"
        " where organization_id = %s",
        world.people[who].personal_org,
    )
    assert rows == [(Decimal("600.00"), Decimal("48"), Decimal("648.00"), "PO-9")]

    # The same invoice again is a duplicate of the stored one.
    again = any_api.post(
        "/api/reconciliation/invoices",
        as_=who,
        json_body={"policy": "accept_valid_rows", "invoices": [_invoice("H-1")]},
    )
    assert again.status == 422, again.json()
    assert again.error["code"] == "import_rejected"
    assert "is already recorded" in again.error["details"]["rejected"][0]["message"]


def test_json_invoices_all_or_nothing(any_api: Api, world: World) -> None:
    who = fresh(world)
    reply = any_api.post(
        "/api/reconciliation/invoices",
        as_=who,
        json_body={"invoices": [_invoice("A-1"), _invoice("A-2", quantity=0)]},
    )
    assert reply.status == 422, reply.json()
    error = reply.error
    assert error["code"] == "import_rejected"
    assert error["message"].startswith("nothing was imported: 1 of 2 rows have errors")
    assert error["details"]["rejected"] == [
        {
            "index": 1,
            "field": "invoices[1].lines[0].quantity",
            "value": "0",
            "message": "lines[0].quantity: must be more than 0",
        }
    ]
    assert error["details"]["batch"]["status"] == "rejected"
    assert world.sql(
        "select count(*) from public.vendor_invoices where organization_id = %s",
        world.people[who].personal_org,
    ) == [(0,)]
    # The rejected batch is on record.
    listed = any_api.get("/api/reconciliation/imports", as_=who, query={"status": "rejected"})
    assert [b["id"] for b in listed.json()["data"]] == [error["details"]["batch"]["id"]]


@pytest.mark.slow  # 1,000 invoices imported: ~9 s
def test_json_import_limits(api: Api, world: World) -> None:
    who = fresh(world)
    too_many = api.post(
        "/api/reconciliation/invoices",
        as_=who,
        json_body={"invoices": [_invoice(f"L-{n}") for n in range(1001)]},
    )
    assert too_many.status == 422
    assert too_many.error["details"][0]["field"] == "invoices"
    empty = api.post("/api/reconciliation/invoices", as_=who, json_body={"invoices": []})
    assert empty.status == 422
    thousand = api.post(
        "/api/reconciliation/invoices",
        as_=who,
        json_body={"invoices": [_invoice(f"L-{n}") for n in range(1000)]},
    )
    assert thousand.status == 201, thousand.json()
    assert len(thousand.json()["accepted"]) == 1000


def test_json_purchase_orders_and_receipts(any_api: Api, world: World) -> None:
    who = fresh(world)
    orders = any_api.post(
        "/api/reconciliation/purchase-orders",
        as_=who,
        json_body={
            "purchase_orders": [
                {
                    "po_number": "PO-7",
                    "vendor_name": "Soylent Corp",
                    "currency": "EUR",
                    "order_date": "2026-11-01",
                    "lines": [
                        {
                            "item_code": "SG-1",
                            "description": "Green",
                            "quantity": 10,
                            "unit_price": 1.5,
                        },
                        {
                            "item_code": "SY-1",
                            "description": "Yellow",
                            "quantity": "5",
                            "unit_price": "2",
                        },
                    ],
                }
            ]
        },
    )
    assert orders.status == 201, orders.json()
    po_id = orders.json()["accepted"][0]["id"]
    receipts = any_api.post(
        "/api/reconciliation/receipts",
        as_=who,
        json_body={
            "policy": "accept_valid_rows",
            "receipts": [
                {
                    "receipt_number": "R-1",
                    "po_number": "po 7",
                    "lines": [{"po_line": 1, "quantity_received": 4}],
                },
                {
                    "receipt_number": "R-2",
                    "po_number": "PO-7",
                    "lines": [{"item_code": "sy-1", "quantity_received": "5"}],
                },
                {
                    "receipt_number": "R-3",
                    "po_number": "PO-8",
                    "lines": [{"po_line": 1, "quantity_received": 1}],
                },
                {"receipt_number": "R-4", "po_number": "PO-7", "lines": [{"quantity_received": 1}]},
            ],
        },
    )
    assert receipts.status == 201, receipts.json()
    body = receipts.json()
    assert [a["index"] for a in body["accepted"]] == [0, 1]
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (2, "receipts[2].po_number"),
        (3, "receipts[3].lines[0].po_line"),
    ]
    assert "PO-8 is not known" in body["rejected"][0]["message"]
    detail = any_api.get(f"/api/reconciliation/purchase-orders/{po_id}", as_=who)
    assert detail.status == 200, detail.json()
    po = detail.json()
    assert po["vendor"]["name"] == "Soylent Corp"
    assert po["status"] == "open"
    assert [
        (line["line_number"], line["amount"], line["quantity_received"]) for line in po["lines"]
    ] == [
        (1, "15.00", "4"),
        (2, "10.00", "5"),
    ]
    assert world.sql(
        "select count(*), min(default_currency) from public.vendors where organization_id = %s",
        world.people[who].personal_org,
    ) == [(1, "EUR")]


@pytest.mark.parametrize(
    "path", ["/api/reconciliation/imports/{}", "/api/reconciliation/purchase-orders/{}"]
)
def test_unknown_ids_are_404(any_api: Api, world: World, path: str) -> None:
    reply = any_api.get(path.format(uuid.uuid4()), as_=fresh(world))
    assert reply.status == 404
    assert reply.error["code"] == "not_found"


def test_upload_notification_triggers_the_worker_as_in_make_dev(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """The path `make dev` runs: the upload itself (moto's bucket notification, delivered
    by devstack.queues as S3 invokes Lambda) starts the import; nobody builds the event."""
    who = fresh(world)
    data = (DATA / "recon_purchase_orders.tsv").read_bytes()
    batch_id, _ = upload(
        api, aws, who, "purchase_orders", data=data, file_name="recon_purchase_orders.tsv"
    )
    found = [
        p
        for p in pollers(function_host, {}, aws.endpoint, aws.bucket_events())
        if p.spec.name == WORKER
    ]
    assert len(found) == 1
    # Earlier tests' uploads are on the notification queue too: the worker skips those
    # batches (already claimed), which is what a redelivered S3 event gets.
    delivered = found[0].drain(timeout=120)
    assert delivered.errors == []
    imported = batch(api, who, batch_id)
    assert imported["status"] == "completed"
    assert (imported["rows_total"], imported["rows_accepted"]) == (5, 5)
