"""Email intake budget (issue 20): an email with 10 attachments processed in at most 5 s.

    .venv/bin/python -m bench.email_intake [--rounds 5]

A fresh PostgreSQL with every migration, the local REST gateway and a moto server (as
``make dev``). An organization with its inbound address, an allowed sender, 50 vendors
known by their VAT id and the purchase orders (with receipts) the invoices name (not
timed). Each round, one raw message (RFC 5322, as SES stores it) with 10 attachments:
4 UBL invoices (shared/einvoice/ubl.py, 3 lines each, validated against the EN 16931
rules), 3 CSV files of 5 invoices each, 3 PDFs with a text layer (drafts). Timed: the
message put into the inbound bucket, then the mail worker's handler (jobsEmailIntake, in
process, the bucket's S3 event): S3 read, parse, every attachment read and validated, the
one import call of the message's batch, the drafts, matching.

Prints a table and writes bench/out/email_intake.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from bench.common import OUT_DIR, Machine, connect, loadavg, log, table, user_token
from bench.einvoice_import import VENDORS, documents, vat_id
from devstack.ses import stored

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 5.0
UBL_FILES = 4
CSV_FILES = 3
PDF_FILES = 3
CSV_INVOICES = 5


def csv_file(tag: str, n: int) -> bytes:
    rows = ["vendor_name,invoice_number,invoice_date,currency,description,quantity,unit_price"]
    for i in range(CSV_INVOICES):
        number = f"CSV-{tag}-{n}-{i}"
        rows.append(
            f"Mail Vendor {n},{number},2026-11-20,EUR,Service {i},{i + 1},{10 * (i + 1)}.00"
        )
    return ("\n".join(rows) + "\n").encode()


def pdf_file(tag: str, n: int) -> bytes:
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]  # noqa: PLC0415

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    lines = [f"Paper Supplies {n} Ltd", "1 High Street, London", f"Invoice No: PDF-{tag}-{n}",
             "Invoice date: 2026-11-28", "Due date: 2026-12-28", "Subtotal: 100.00",
             "VAT 20%: 20.00", "Total: 120.00 GBP"]  # fmt: skip
    for y, line in enumerate(lines):
        page.drawString(60, 800 - 18 * y, line)
    page.showPage()
    page.save()
    return buffer.getvalue()


def message(to: str, sender: str, tag: str, ubls: list[bytes]) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Invoices {tag}"
    msg["Message-ID"] = make_msgid(domain="vendor.example")
    msg.set_content("Our invoices are attached.")
    for n, data in enumerate(ubls):
        msg.add_attachment(data, maintype="application", subtype="xml", filename=f"inv-{n}.xml")
    for n in range(CSV_FILES):
        msg.add_attachment(
            csv_file(tag, n), maintype="text", subtype="csv", filename=f"batch-{n}.csv"
        )
    for n in range(PDF_FILES):
        msg.add_attachment(
            pdf_file(tag, n), maintype="application", subtype="pdf", filename=f"scan-{n}.pdf"
        )
    # As SES stores it: its verdicts on the sender prepended (the worker quarantines a
    # message without them).
    return stored(msg.as_bytes(), sender=sender, recipient=to)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.email_intake")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from devstack import postgres  # noqa: PLC0415
    from devstack.aws import INBOUND_BUCKET, provision  # noqa: PLC0415
    from devstack.postgres import free_port  # noqa: PLC0415
    from devstack.stack import serve  # noqa: PLC0415

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    machine = Machine.describe()
    rounds: list[dict[str, Any]] = []
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
                    "HTTP_TIMEOUT_SECONDS": "60",
                }
            )
            from devstack.functions import FunctionHost, load_functions  # noqa: PLC0415
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

            with connect(cluster.url) as conn:
                ident = f"bench-{uuid.uuid4().hex[:8]}"
                made = conn.execute("select tests.create_supabase_user(%s)::text", (ident,))
                uid = made.fetchone()[0]  # type: ignore[index]
                org = conn.execute("select tests.personal_org(%s)::text", (ident,)).fetchone()[0]  # type: ignore[index]
                token_row = conn.execute(
                    "select address_token from public.inbound_settings where organization_id = %s",
                    (org,),
                ).fetchone()
                assert token_row is not None
                conn.execute(
                    "update public.inbound_settings set allowed_senders = '{@vendor.example}'"
                    " where organization_id = %s",
                    (org,),
                )
                for n in range(VENDORS):
                    conn.execute(
                        "insert into public.vendors (organization_id, name, tax_id_sealed,"
                        " tax_id_hash) values (%s, %s, %s, %s)",
                        (org, f"Vendor {n:03d} GmbH", json.dumps(seal),
                         vendor_tax_ids.lookup_hash(vat_id(n))),
                    )  # fmt: skip
            inbox = f"{token_row[0]}@{settings.inbound_email_domain}"
            client = db.rest(settings, user_token(keys.jwt_secret, uid, 7200))

            def with_orders(seed: int) -> list[bytes]:
                orders, invoices = documents(UBL_FILES, seed)
                pos = validate_json("purchase_orders", orders)
                db.rpc(client, "import_purchase_orders",
                       {"organization_id": org, "batch": pos.documents,
                        "rows_total": pos.rows_total})  # fmt: skip
                receipts = [
                    {"receipt_number": f"GR-{o['po_number']}", "po_number": o["po_number"],
                     "lines": [{"po_line": line["line_number"],
                                "quantity_received": line["quantity"]} for line in o["lines"]]}
                    for o in orders
                ]  # fmt: skip
                grs = validate_json("goods_receipts", receipts)
                db.rpc(client, "import_goods_receipts",
                       {"organization_id": org, "batch": grs.documents,
                        "rows_total": grs.rows_total})  # fmt: skip
                return invoices

            def deliver(seed: int) -> dict[str, Any]:
                tag = f"{seed}-{uuid.uuid4().hex[:6]}"
                raw = message(inbox, "ap@vendor.example", tag, with_orders(seed))
                key = f"inbound/{uuid.uuid4().hex}"
                started = time.perf_counter()
                s3.put_object(Bucket=INBOUND_BUCKET, Key=key, Body=raw)
                event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                    "bucket": {"name": INBOUND_BUCKET},
                    "object": {"key": quote_plus(key, safe="/"), "size": len(raw)}}}]}  # fmt: skip
                result = host.invoke_by_name("jobsEmailIntake", event)
                seconds = time.perf_counter() - started
                [intake] = result["results"][0]["organizations"]
                outcomes = [a["outcome"] for a in intake["attachments"]]
                return {
                    "seconds": seconds,
                    "bytes": len(raw),
                    "status": intake["status"],
                    "outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
                    "matched": (intake.get("matching") or {}).get("matched"),
                }

            deliver(900)  # warm-up: imports, the Schematron compiled, connections
            for round_ in range(args.rounds):
                log(f"round {round_ + 1}/{args.rounds} ({loadavg()})")
                rounds.append(deliver(round_ + 1))
        finally:
            moto.stop()
            gateway.stop()
    seconds = [r["seconds"] for r in rounds]
    rows = [
        [str(i + 1), f"{r['seconds']:.2f}", f"{r['bytes'] / 1024:.0f} KiB", r["status"],
         json.dumps(r["outcomes"]), str(r["matched"])]
        for i, r in enumerate(rounds)
    ]  # fmt: skip
    print(table(["round", "seconds", "message", "status", "attachments", "matched"], rows))
    print(
        f"10 attachments: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
        f"(budget {BUDGET_SECONDS:.0f} s): {'ok' if max(seconds) <= BUDGET_SECONDS else 'OVER'}"
    )
    out = OUT_DIR / "email_intake.json"
    out.write_text(json.dumps({"machine": str(machine), "load": loadavg(), "rounds": rounds},
                              indent=2, default=str))  # fmt: skip
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
