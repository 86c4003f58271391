"""E-invoice import budget (issue 19): 1,000 UBL vendor invoices parsed, validated against
the EN 16931 rules (XSD + the CEN Schematron through Saxon), stored and matched in at most
15 s.

    .venv/bin/python -m bench.einvoice_import [--invoices 1000] [--rounds 3] [--files 100]

A fresh PostgreSQL with every migration, the local REST gateway and a moto server (as
``make dev``). Each round gets a fresh organization with 50 vendors known by their VAT id
(keyed hash) and 1,000 purchase orders with their receipts (not timed); the invoices are
written by shared/einvoice/ubl.py (3 lines each, two rates, the seller named otherwise
than the vendor so that the VAT id finds it, the PO referenced). Timed:

- ``json-route``: the 1,000 documents through ``POST /api/reconciliation/einvoices``'s real
  handler (reconciliationJsonImports, in process, an HTTP API v2 event), 100 per call:
  base64, read, validate, one import RPC per call, matching: **the budget's figure**;
- ``worker-file``: ``--files`` single-document uploads (presigned PUT to moto) each given
  to the S3 import worker's handler: claim, S3 read, read + validate, store, match; the
  per-file time (in AWS every upload is its own Lambda invocation, run side by side);
- ``stages``: in process over the 1,000 documents: reading (lxml), the XSD, the CEN
  Schematron (Saxon, compiled once before), the mapping to the import's document.

Prints a table and writes bench/out/einvoice_import.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx

from bench.common import OUT_DIR, Machine, connect, loadavg, log, table, user_token

ROOT = Path(__file__).resolve().parent.parent
VENDORS = 50
PER_CALL = 100
LINES = (("Article 1, standard", "19"), ("Article 2, standard", "19"), ("Article 3, book", "7"))


def vat_id(n: int) -> str:
    return f"DE{100_000_000 + n:09d}"


def documents(count: int, seed: int) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The purchase orders (JSON import documents) and the UBL invoices against them."""
    from shared.einvoice import model  # noqa: PLC0415
    from shared.einvoice.ubl import to_ubl  # noqa: PLC0415

    rng = random.Random(seed)  # noqa: S311 (reproducible data, not secrets)
    orders: list[dict[str, Any]] = []
    invoices: list[bytes] = []
    issued = date.today() - timedelta(days=5)
    buyer = model.Party(name="Bench Buyer GmbH", address=model.Address(country_code="DE"))
    for n in range(count):
        vendor = n % VENDORS
        lines = []
        po_lines = []
        for number, (name, rate) in enumerate(LINES, start=1):
            quantity = Decimal(rng.randint(1, 50))
            price = Decimal(rng.randint(100, 90_000)) / 100
            po_lines.append(
                {"line_number": number, "description": name, "quantity": str(quantity),
                 "unit_price": str(price)}
            )  # fmt: skip
            lines.append(
                model.Line(
                    id=str(number),
                    name=name,
                    quantity=quantity,
                    net_price=price,
                    net_amount=model.line_amount(quantity, price, "EUR"),
                    vat_category="S",
                    vat_rate=Decimal(rate),
                )
            )
        po = f"PO-{seed}-{n:06d}"
        orders.append(
            {"po_number": po, "vendor_name": f"Vendor {vendor:03d} GmbH", "currency": "EUR",
             "lines": po_lines}
        )  # fmt: skip
        breakdown = model.tax_breakdown(lines, (), (), "EUR")
        seller = model.Party(
            name=f"VENDOR {vendor:03d} Niederlassung Nord",
            address=model.Address("Hauptstraße 1", None, "Berlin", "10115", None, "DE"),
            vat_id=vat_id(vendor),
        )
        invoice = model.Invoice(
            number=f"INV-{seed}-{n:06d}",
            type_code="380",
            issue_date=issued,
            due_date=issued + timedelta(days=30),
            currency="EUR",
            seller=seller,
            buyer=buyer,
            lines=tuple(lines),
            tax_breakdown=breakdown,
            totals=model.document_totals(lines, (), (), breakdown, "EUR"),
            purchase_order_reference=po,
            payment=model.PaymentMeans(code="58", iban="DE89370400440532013000"),
        )
        invoices.append(to_ubl(invoice, "ubl"))
    return orders, invoices


def stages(invoices: list[bytes]) -> dict[str, float]:
    """Seconds per stage over every document, in process (the rules compiled before)."""
    from lxml import etree  # noqa: PLC0415

    from shared.einvoice import read, validate  # noqa: PLC0415
    from shared.reconciliation.ingest.einvoice import to_document  # noqa: PLC0415

    validate.warm("en16931-ubl")
    spent = {"read": 0.0, "xsd": 0.0, "schematron": 0.0, "map": 0.0}
    for data in invoices:
        t0 = time.perf_counter()
        invoice, _, xml = read.read(data)
        t1 = time.perf_counter()
        root = etree.fromstring(xml)
        findings = validate._check_xsd(root, "ubl")
        t2 = time.perf_counter()
        findings += validate._run_schematron(validate.CEN_UBL_XSLT, xml)
        t3 = time.perf_counter()
        to_document(invoice)
        t4 = time.perf_counter()
        assert not validate.fatal(findings), findings[:3]
        spent["read"] += t1 - t0
        spent["xsd"] += t2 - t1
        spent["schematron"] += t3 - t2
        spent["map"] += t4 - t3
    return spent


def report(results: dict[str, Any]) -> None:
    print(f"load average: {results.get('load', '?')}")
    route = results["json-route"]
    files = results["worker-file"]
    stage = results["stages"]
    n = results["invoices"]
    rows = [
        [
            f"json-route ({n:,} UBL, {PER_CALL} a call)",
            f"{statistics.median(r['seconds'] for r in route):.2f}",
            f"{max(r['seconds'] for r in route):.2f}",
            "yes" if max(r["seconds"] for r in route) <= 15 else "NO",
            f"{statistics.median(r['matched'] for r in route):.0f} / {n:,} matched",
        ]
    ]
    per_file = [s for r in files for s in r["seconds"]]
    per_file.sort()
    rows.append(
        [
            f"worker-file (1 upload = 1 invocation; {len(per_file)} files)",
            f"{statistics.median(per_file):.3f} / file",
            f"p95 {per_file[int(0.95 * (len(per_file) - 1))]:.3f}",
            "-",
            f"{statistics.median(per_file) * n:.1f} s for {n:,} one after another",
        ]
    )
    print(table(["case", "median s", "max s", "<= 15 s", "notes"], rows))
    if results.get("phases"):
        phase = results["phases"]
        print(
            table(
                ["route's steps in process (1,000 docs)", "median s", "max s"],
                [
                    [k, f"{statistics.median(r[k] for r in phase):.2f}",
                     f"{max(r[k] for r in phase):.2f}"]
                    for k in phase[0]
                ],
            )
        )  # fmt: skip
    per_doc = {k: 1000 * statistics.median(r[k] for r in stage) / n for k in stage[0]}
    print(
        table(
            ["stage (in process)", "ms per document (median of rounds)"],
            [[k, f"{v:.2f}"] for k, v in per_doc.items()],
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.einvoice_import")
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--report", type=Path, help="print the table of a saved run's JSON")
    args = parser.parse_args(argv)
    if args.report:
        report(json.loads(args.report.read_text())["results"])
        return 0

    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from devstack import postgres  # noqa: PLC0415
    from devstack.aws import provision  # noqa: PLC0415
    from devstack.postgres import free_port  # noqa: PLC0415
    from devstack.stack import serve  # noqa: PLC0415

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    machine = Machine.describe()
    results: dict[str, Any] = {
        "invoices": args.invoices, "json-route": [], "worker-file": [], "stages": [],
        "phases": []
    }  # fmt: skip
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.url) as conn:
            conn.execute((ROOT / "supabase/tests/000-setup-tests-helpers.sql").read_text())
        gateway = serve(cluster.url)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        moto.start()
        try:
            host_port = moto.get_host_and_port()
            aws = provision(f"http://{host_port[0]}:{host_port[1]}")
            keys = gateway.config.keys
            os.environ.update(
                {
                    **aws.environment(),
                    "SUPABASE_URL": gateway.url,
                    "SUPABASE_ANON_KEY": keys.anon_key,
                    "SUPABASE_JWT_SECRET": keys.jwt_secret,
                    "SUPABASE_SERVICE_ROLE_KEY": keys.service_role_key,
                    "RATE_LIMIT_PER_WINDOW": "0",
                    "LOG_LEVEL": "WARNING",
                    "HTTP_TIMEOUT_SECONDS": "120",
                    "MAX_BODY_BYTES": "6000000",
                }
            )
            from devstack.functions import FunctionHost, http_event, load_functions  # noqa: PLC0415
            from functions.jobs import import_worker  # noqa: PLC0415
            from shared import aws as shared_aws  # noqa: PLC0415
            from shared import db  # noqa: PLC0415
            from shared.reconciliation import vendor_tax_ids  # noqa: PLC0415
            from shared.reconciliation.ingest import validate_json  # noqa: PLC0415
            from shared.settings import get_settings  # noqa: PLC0415

            get_settings.cache_clear()
            shared_aws.reset()
            settings = get_settings()
            host = FunctionHost(load_functions())
            s3 = shared_aws.client("s3")
            seal = {"v": 1, "kid": "bench", "dk": "x", "n": "x", "c": "x"}

            def tenant(orders: list[dict[str, Any]]) -> tuple[str, str]:
                with connect(cluster.url) as conn:
                    ident = f"bench-{uuid.uuid4().hex[:8]}"
                    made = conn.execute(
                        "select tests.create_supabase_user(%s)::text", (ident,)
                    ).fetchone()
                    found = conn.execute("select tests.personal_org(%s)::text", (ident,)).fetchone()
                    assert made is not None
                    assert found is not None
                    uid, org = made[0], found[0]
                    for n in range(VENDORS):
                        conn.execute(
                            "insert into public.vendors (organization_id, name, tax_id_sealed,"
                            " tax_id_hash) values (%s, %s, %s, %s)",
                            (org, f"Vendor {n:03d} GmbH", json.dumps(seal),
                             vendor_tax_ids.lookup_hash(vat_id(n))),
                        )  # fmt: skip
                token = user_token(keys.jwt_secret, uid, 7200)
                client = db.rest(settings, token)
                for start in range(0, len(orders), 1000):
                    chunk = orders[start : start + 1000]
                    pos = validate_json("purchase_orders", chunk)
                    db.rpc(client, "import_purchase_orders",
                           {"organization_id": org, "batch": pos.documents,
                            "rows_total": pos.rows_total})  # fmt: skip
                    receipts = [
                        {"receipt_number": f"GR-{o['po_number']}", "po_number": o["po_number"],
                         "lines": [{"po_line": line["line_number"],
                                    "quantity_received": line["quantity"]}
                                   for line in o["lines"]]}
                        for o in chunk
                    ]  # fmt: skip
                    grs = validate_json("goods_receipts", receipts)
                    db.rpc(client, "import_goods_receipts",
                           {"organization_id": org, "batch": grs.documents,
                            "rows_total": grs.rows_total})  # fmt: skip
                return org, token

            spec = host.by_name["reconciliationJsonImports"].at(
                "POST", "/api/reconciliation/einvoices"
            )

            def json_route(org: str, token: str, invoices: list[bytes]) -> dict[str, Any]:
                started = time.perf_counter()
                accepted = matched = 0
                for start in range(0, len(invoices), PER_CALL):
                    body = json.dumps({"documents": [
                        {"file_name": f"i{start + i}.xml", "content": base64.b64encode(d).decode()}
                        for i, d in enumerate(invoices[start : start + PER_CALL])
                    ]}).encode()  # fmt: skip
                    headers = {"authorization": f"Bearer {token}", "x-organization-id": org,
                               "content-type": "application/json",
                               "content-length": str(len(body))}  # fmt: skip
                    event = http_event(
                        spec, "POST", "/api/reconciliation/einvoices", "", headers, body
                    )
                    answer = host.invoke(spec, event)
                    assert answer["statusCode"] == 201, answer["body"][:500]
                    reply = json.loads(answer["body"])
                    accepted += len(reply["accepted"])
                    matched += (reply.get("matching") or {}).get("matched", 0)
                seconds = time.perf_counter() - started
                return {"seconds": seconds, "accepted": accepted, "matched": matched}

            def phases(org: str, token: str, invoices: list[bytes]) -> dict[str, float]:
                """The route's steps in process, each timed (wall and this process's CPU)."""
                from shared.reconciliation import imports  # noqa: PLC0415
                from shared.reconciliation.ingest.einvoice import (  # noqa: PLC0415
                    merge,
                    parse_einvoice,
                )

                client = db.rest(settings, token)
                spent = {"parse_validate": 0.0, "parse_validate_cpu": 0.0, "store": 0.0,
                         "match": 0.0}  # fmt: skip
                for start in range(0, len(invoices), PER_CALL):
                    chunk = invoices[start : start + PER_CALL]
                    w, c = time.perf_counter(), time.process_time()
                    parsed = merge(
                        [parse_einvoice(d, f"{i}.xml", row=i) for i, d in enumerate(chunk)]
                    )
                    spent["parse_validate"] += time.perf_counter() - w
                    spent["parse_validate_cpu"] += time.process_time() - c
                    w = time.perf_counter()
                    report = imports.store(client, org, parsed, "all_or_nothing")
                    spent["store"] += time.perf_counter() - w
                    w = time.perf_counter()
                    ids = [str(a["id"]) for a in report["accepted"]]
                    imports.match_in_chunks(client, org, invoice_ids=ids)
                    spent["match"] += time.perf_counter() - w
                return spent

            def worker_files(org: str, token: str, invoices: list[bytes]) -> dict[str, Any]:
                client = db.rest(settings, token)
                spent = []
                for n, data in enumerate(invoices):
                    name = f"f{n}.xml"
                    batch = db.rpc(client, "create_import_upload",
                                   {"organization_id": org, "kind": "vendor_invoices",
                                    "file_name": name, "object_name": name})  # fmt: skip
                    url = s3.generate_presigned_url(
                        "put_object",
                        Params={"Bucket": aws.uploads_bucket, "Key": batch["s3_key"],
                                "ContentType": "application/xml"},
                        HttpMethod="PUT",
                    )  # fmt: skip
                    httpx.put(
                        url, content=data, headers={"Content-Type": "application/xml"}
                    ).raise_for_status()
                    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                        "bucket": {"name": aws.uploads_bucket},
                        "object": {"key": quote_plus(batch["s3_key"], safe="/"),
                                   "size": len(data)}}}]}  # fmt: skip
                    started = time.perf_counter()
                    answer = import_worker.handler(event, None)
                    spent.append(time.perf_counter() - started)
                    assert answer["results"][0]["outcome"] == "completed", answer
                return {"seconds": spent}

            # Warm-up: imports, the rules compiled, connections.
            orders, invoices = documents(20, 99)
            org, token = tenant(orders)
            json_route(org, token, invoices[:10])
            worker_files(org, token, invoices[10:12])
            for round_ in range(args.rounds):
                orders, invoices = documents(args.invoices, round_ + 1)
                org, token = tenant(orders)
                log(f"round {round_ + 1}/{args.rounds}: json-route ({loadavg()})")
                results["json-route"].append(json_route(org, token, invoices))
                log(f"round {round_ + 1}/{args.rounds}: stages ({loadavg()})")
                results["stages"].append(stages(invoices))
                orders, invoices = documents(args.invoices, 50 + round_)
                org, token = tenant(orders)
                log(f"round {round_ + 1}/{args.rounds}: phases ({loadavg()})")
                results["phases"].append(phases(org, token, invoices))
                files_orders, files_invoices = documents(args.files, 100 + round_)
                files_org, files_token = tenant(files_orders)
                log(f"round {round_ + 1}/{args.rounds}: worker-file ({loadavg()})")
                results["worker-file"].append(worker_files(files_org, files_token, files_invoices))
        finally:
            moto.stop()
            gateway.stop()
    results["load"] = loadavg()
    out = OUT_DIR / "einvoice_import.json"
    out.write_text(json.dumps({"machine": str(machine), "load": loadavg(),
                               "results": results}, indent=2, default=str))  # fmt: skip
    report(results)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
