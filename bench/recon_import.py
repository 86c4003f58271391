"""Reconciliation import budget (issue 6): a 10,000-row CSV file validated and stored in
at most 15 s, through the real worker handler against the local stack.

    .venv/bin/python -m bench.recon_import [--rows 10000] [--rounds 3]

A fresh PostgreSQL with every migration, the local REST gateway and a moto S3 server (as
``make dev``). Each round gets a fresh organization (50 known vendors) and, interleaved:

- ``po-worker``: a ``;``-separated European-formatted file of purchase orders (``--rows``
  rows, 5 lines per order) uploaded through a presigned PUT, then the S3 event given to
  ``functions.jobs.import_worker.handler``: claim, read from S3, parse and
  validate, one RPC storing the batch, matching;
- ``invoice-worker``: the same for a US-formatted vendor invoice file (``--rows`` rows, 5
  lines per invoice, quoted thousands, month/day/year dates), against those POs;
- ``invoice-errors``: the invoice file with 5 % bad rows, accept_valid_rows;
- ``parse-floor``: ``csv.reader`` and ``Decimal`` over the same invoice file, no
  validation: what reading the rows costs at the least;
- ``insert-floor``: the same normalized invoices inserted by two bare ``INSERT ... SELECT
  FROM jsonb_to_recordset`` statements as the table owner (no RPC, no duplicate checks,
  no row errors; the audit triggers still fire): what storing costs at the least.

Prints a table and writes bench/out/recon_import.json. The machine is shared (2 cores):
the ratios to the floors, measured in the same rounds, are the figures to compare.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import statistics
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx

from bench.common import OUT_DIR, Machine, connect, loadavg, log, table, user_token

ROOT = Path(__file__).resolve().parent.parent
LINES = 5
VENDORS = 50


def _money_us(value: Decimal) -> str:
    return f"{value:,.2f}"


def _money_eu(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def purchase_orders_csv(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)  # noqa: S311 (reproducible data, not secrets)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["PO Number", "Lieferant", "Order Date", "Currency", "Line", "Item Code",
                     "Description", "Qty Ordered", "Unit Price"])  # fmt: skip
    for n in range(rows // LINES):
        vendor = f"Vendor {n % VENDORS:03d} GmbH"
        day = f"{1 + n % 28:02d}.{1 + n % 12:02d}.2026"
        for line in range(1, LINES + 1):
            price = Decimal(rng.randint(100, 500_000)) / 100
            quantity = rng.randint(1, 2000)
            writer.writerow([f"PO-{n:06d}", vendor, day, "EUR", line, f"ITEM-{line:02d}",
                             f"Article {line}, standard", quantity, _money_eu(price)])  # fmt: skip
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def invoices_csv(rows: int, seed: int, bad_share: float = 0.0) -> bytes:
    rng = random.Random(seed)  # noqa: S311 (reproducible data, not secrets)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Vendor", "Invoice No", "Invoice Date", "Due Date", "PO Number", "Currency",
                     "Item Code", "Description", "Qty", "Unit Price", "Line Total", "Tax",
                     "Invoice Total"])  # fmt: skip
    for n in range(rows // LINES):
        vendor = f"VENDOR {n % VENDORS:03d} GMBH"  # the PO file's vendors, written otherwise
        month, day = 1 + n % 12, 1 + n % 28
        lines = []
        for line in range(1, LINES + 1):
            quantity = rng.randint(1, 2000)
            price = Decimal(rng.randint(100, 500_000)) / 100
            lines.append((line, quantity, price, (quantity * price).quantize(Decimal("0.01"))))
        subtotal = sum((amount for *_, amount in lines), Decimal(0))
        tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
        for line, quantity, price, amount in lines:
            qty = "-1" if rng.random() < bad_share else str(quantity)
            writer.writerow([vendor, f"INV-{n:06d}", f"{month:02d}/{day:02d}/2026",
                             f"{month:02d}/28/2026", f"PO-{n:06d}", "EUR", f"ITEM-{line:02d}",
                             f"Article {line}, standard", qty, _money_us(price), _money_us(amount),
                             _money_us(tax), _money_us(subtotal + tax)])  # fmt: skip
    return out.getvalue().encode()


def parse_floor(data: bytes) -> int:
    """The least reading a file can cost: csv rows, amounts to Decimal."""
    count = 0
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""))
    next(reader)
    for row in reader:
        Decimal(row[8])
        Decimal(row[9].replace(",", ""))
        Decimal(row[10].replace(",", ""))
        count += 1
    return count


INSERT_FLOOR = """
with docs as (
  insert into public.vendor_invoices (id, organization_id, vendor_name, invoice_number,
    invoice_date, currency, subtotal, tax_amount, total_amount)
  select (d->>'id')::uuid, %(org)s, d->>'vendor_name', d->>'invoice_number',
         (d->>'invoice_date')::date, d->>'currency', 0, (d->>'tax_amount')::numeric,
         (d->>'total_amount')::numeric
  from jsonb_array_elements(%(docs)s::jsonb) d
  returning id
)
insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency,
  line_number, description, quantity, unit_price, amount)
select %(org)s, (d->>'id')::uuid, 'EUR', l.line_number, l.description, l.quantity,
       l.unit_price, coalesce(l.amount, 0)
from jsonb_array_elements(%(docs)s::jsonb) d
cross join lateral jsonb_to_recordset(d->'lines') as l (line_number integer, description text,
  quantity numeric, unit_price numeric, amount numeric)
"""


def report(results: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Prints the table; answers the ratios. The budget is "validated and stored": the
    worker's read + validate + store (claim to stored); matching, which the worker runs
    next, is shown apart (it is the matching engine's own budget)."""

    def med(values: list[float]) -> float:
        return float(statistics.median(values))

    def seconds(case: str) -> list[float]:
        return [r["seconds"] for r in results[case]]

    def stored(case: str) -> list[float]:
        return [
            r["steps"]["read"] + r["steps"]["validate"] + r["steps"]["store"] for r in results[case]
        ]

    def step(case: str, name: str) -> float:
        return med([r["steps"][name] for r in results[case]])

    rows = []
    for case in ("po-worker", "invoice-worker", "invoice-errors"):
        done = stored(case)
        rows.append(
            [
                case,
                f"{step(case, 'read'):.2f}",
                f"{step(case, 'validate'):.2f}",
                f"{step(case, 'store'):.2f}",
                f"{med(done):.2f} / {max(done):.2f}",
                "yes" if max(done) <= 15 else "NO",
                f"{step(case, 'match'):.2f}",
                f"{med(seconds(case)):.2f} / {max(seconds(case)):.2f}",
                f"{results[case][-1]['rows_accepted']:,}/{results[case][-1]['rows_rejected']:,}",
            ]
        )
    for case in ("parse-floor", "insert-floor"):
        rows.append([case, "", "", "", f"{med(seconds(case)):.2f} / {max(seconds(case)):.2f}",
                     "", "", "", ""])  # fmt: skip
    print()
    print(
        table(
            ["case", "read", "validate", "store", "stored med / max s", "<= 15 s", "match",
             "handler med / max s", "accepted/rejected"],
            rows,
        )
    )  # fmt: skip
    ratios = {
        "validate / parse-floor": step("invoice-worker", "validate") / med(seconds("parse-floor")),
        "store / insert-floor": step("invoice-worker", "store") / med(seconds("insert-floor")),
    }
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recon_import")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
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
    files = {
        "po-worker": purchase_orders_csv(args.rows, 1),
        "invoice-worker": invoices_csv(args.rows, 2),
        "invoice-errors": invoices_csv(args.rows, 2, bad_share=0.05),
    }
    results: dict[str, list[dict[str, Any]]] = {
        k: [] for k in (*files, "parse-floor", "insert-floor")
    }
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.url) as conn:
            conn.execute((ROOT / "supabase/tests/000-setup-tests-helpers.sql").read_text())
            matching = conn.execute(
                "select to_regprocedure('public.match_vendor_invoices(uuid, uuid[])') is not null"
            ).fetchone()
        gateway = serve(cluster.url)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        moto.start()
        try:
            host, port = moto.get_host_and_port()
            aws = provision(f"http://{host}:{port}")
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
                    "HTTP_TIMEOUT_SECONDS": "120",  # the worker's, as serverless.yml sets it
                }
            )
            from functions.jobs import import_worker  # noqa: PLC0415
            from shared import aws as shared_aws  # noqa: PLC0415
            from shared import db  # noqa: PLC0415
            from shared.reconciliation.ingest import parse_csv  # noqa: PLC0415
            from shared.settings import get_settings  # noqa: PLC0415

            get_settings.cache_clear()
            shared_aws.reset()
            settings = get_settings()

            def tenant() -> tuple[str, str]:
                with connect(cluster.url) as conn:
                    ident = f"bench-{uuid.uuid4().hex[:8]}"
                    made = conn.execute(
                        "select tests.create_supabase_user(%s)::text", (ident,)
                    ).fetchone()
                    found = conn.execute("select tests.personal_org(%s)::text", (ident,)).fetchone()
                    assert made is not None
                    assert found is not None
                    uid, org = made[0], found[0]
                    conn.execute(
                        "insert into public.vendors (organization_id, name)"
                        " select %s, format('Vendor %%s GmbH', lpad(n::text, 3, '0'))"
                        " from generate_series(0, %s) n",
                        (org, VENDORS - 1),
                    )
                token = user_token(keys.jwt_secret, uid, 7200)
                return org, token

            def worker(case: str, org: str, token: str) -> dict[str, Any]:
                kind = "purchase_orders" if case.startswith("po") else "vendor_invoices"
                policy = "accept_valid_rows" if case == "invoice-errors" else "all_or_nothing"
                client = db.rest(settings, token)
                batch = db.rpc(
                    client,
                    "create_import_upload",
                    {"organization_id": org, "kind": kind, "file_name": f"{case}.csv",
                     "object_name": f"{case}.csv", "policy": policy},
                )  # fmt: skip
                url = aws_client.generate_presigned_url(
                    "put_object",
                    Params={"Bucket": aws.uploads_bucket, "Key": batch["s3_key"],
                            "ContentType": "text/csv"},
                    HttpMethod="PUT",
                )  # fmt: skip
                data = files[case]
                httpx.put(
                    url, content=data, headers={"Content-Type": "text/csv"}
                ).raise_for_status()
                key = quote_plus(batch["s3_key"], safe="/")
                event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                    "bucket": {"name": aws.uploads_bucket},
                    "object": {"key": key, "size": len(data)}}}]}  # fmt: skip
                started = time.perf_counter()
                answer = import_worker.handler(event, None)
                seconds = time.perf_counter() - started
                outcome = answer["results"][0]
                assert outcome["outcome"] == "completed", outcome
                return {"seconds": seconds, "steps": outcome["seconds"],
                        "rows_accepted": outcome["rows_accepted"],
                        "rows_rejected": outcome["rows_rejected"]}  # fmt: skip

            from shared.aws import client  # noqa: PLC0415

            aws_client = client("s3")
            log(f"matching deployed: {bool(matching and matching[0])}; {args.rows:,} rows a file")
            # Warm-up: imports, connections, plans.
            org, token = tenant()
            worker("po-worker", org, token)
            for round_ in range(args.rounds):
                org, token = tenant()
                order = ["po-worker", "invoice-worker", "parse-floor", "insert-floor"]
                for case in order:
                    log(f"round {round_ + 1}/{args.rounds}: {case} ({loadavg()})")
                    if case == "parse-floor":
                        started = time.perf_counter()
                        parse_floor(files["invoice-worker"])
                        results[case].append({"seconds": time.perf_counter() - started})
                    elif case == "insert-floor":
                        floor_org, _ = tenant()
                        parsed = parse_csv(files["invoice-worker"], "vendor_invoices")
                        docs = [{**d, "id": str(uuid.uuid4())} for d in parsed.documents]
                        started = time.perf_counter()
                        with connect(cluster.url) as conn:
                            conn.execute(INSERT_FLOOR, {"org": floor_org, "docs": json.dumps(docs)})
                        results[case].append({"seconds": time.perf_counter() - started})
                    else:
                        results[case].append(worker(case, org, token))
                errors_org, errors_token = tenant()
                log(f"round {round_ + 1}/{args.rounds}: invoice-errors")
                results["invoice-errors"].append(worker("invoice-errors", errors_org, errors_token))
        finally:
            moto.stop()
            gateway.stop()

    ratios = report(results)
    print(f"machine: {machine}; load {loadavg()}")
    (OUT_DIR / "recon_import.json").write_text(
        json.dumps(
            {"rows": args.rows, "rounds": args.rounds, "results": results, "ratios": ratios,
             "matching": bool(matching and matching[0]), "machine": str(machine)},
            indent=2,
            default=str,
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
