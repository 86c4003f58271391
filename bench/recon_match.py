"""Reconciliation matching throughput: 10,000 vendor invoices of 5 lines against their POs
and receipts, set-based in SQL (``public.match_vendor_invoices``), budget 30 s.

The data set (loaded set-based with SQL, as superuser, triggers on): one organization,
200 vendors, 10,000 purchase orders of 5 lines, one goods receipt per PO receiving every
line in full, then 10,000 vendor invoices of 5 lines each (one per PO), ``pending``:

* 80 % billed exactly (matched);
* 8 % one line priced 1 % over the PO price, within the 2 % price tolerance;
* 4 % one line billed 2 units over what was received (over_billed_quantity);
* 4 % one line priced 10 % over (price_variance);
* 2 % naming a PO number that does not exist (missing_po);
* 2 % an unknown vendor name (unknown_vendor with trigram suggestions).

Measured, interleaved in one run, each in a transaction rolled back (every round starts
from the same 10,000 pending invoices):

* ``baseline``: one bare aggregate join of the same rows (invoice lines, PO lines,
  receipt lines): the floor of reading what matching reads;
* ``match all``: ``match_vendor_invoices(org)`` (every pending invoice);
* ``re-match``: matching the same 10,000 ids a second time (results replaced,
  exceptions refreshed) after a first matching.

And the import-time cost of automatic re-matching: inserting 2,000 receipt lines (one
statement, as the import does) for POs whose invoices are pending, with
``auto_rematch`` on against off.

``.venv/bin/python -m bench.recon_match [--invoices 10000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.common import Conn, Machine, connect, fmt_ratio, fmt_s, loadavg, log, ratio, table
from devstack import pgtap
from devstack.postgres import test_database

BUDGET_S = 30.0

LOAD_SQL = """
insert into public.vendors (organization_id, name)
select %(org)s, format('Bench Vendor %%s Ltd', v) from generate_series(1, 200) v;

create temp table bench_vendors as
select row_number() over (order by name) as k, id, name
from public.vendors where organization_id = %(org)s;

insert into public.purchase_orders (organization_id, vendor_id, po_number, currency, order_date)
select %(org)s, v.id, format('PO-%%s', p), 'USD', date '2026-01-01' + (p %% 300)
from generate_series(1, %(n)s) p
join bench_vendors v on v.k = 1 + p %% 200;

insert into public.purchase_order_lines (organization_id, purchase_order_id, currency,
  line_number, item_code, description, quantity, unit_price)
select %(org)s, po.id, 'USD', l, format('ITEM-%%s', l), format('Item %%s', l), 10,
       (5 + (l * 7 + substr(po.po_number, 4)::integer) %% 97)::numeric + 0.25
from public.purchase_orders po
cross join generate_series(1, 5) l
where po.organization_id = %(org)s;

insert into public.goods_receipts (organization_id, purchase_order_id, receipt_number,
  received_date)
select %(org)s, po.id, 'GR-' || substr(po.po_number, 4), po.order_date + 5
from public.purchase_orders po where po.organization_id = %(org)s;

insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id,
  quantity_received)
select %(org)s, g.id, pl.id, pl.quantity
from public.goods_receipts g
join public.purchase_order_lines pl on pl.purchase_order_id = g.purchase_order_id
where g.organization_id = %(org)s;

create temp table bench_plan as
select po.id as po_id, po.po_number, po.vendor_id, v.name as vendor_name,
       substr(po.po_number, 4)::integer as p, po.order_date
from public.purchase_orders po join bench_vendors v on v.id = po.vendor_id
where po.organization_id = %(org)s;

insert into public.vendor_invoices (organization_id, vendor_id, vendor_name, invoice_number,
  invoice_date, po_number, currency, subtotal, tax_amount, total_amount)
select %(org)s,
       case when b.p %% 50 = 7 then null else b.vendor_id end,
       case when b.p %% 50 = 7 then 'Unknwn Vendr ' || b.p else b.vendor_name end,
       'INV-' || b.p, b.order_date + 10,
       case when b.p %% 50 = 3 then 'PO-X' || b.p else b.po_number end,
       'USD', 0, 0, 0
from bench_plan b;

insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number,
  item_code, description, quantity, unit_price, amount)
select %(org)s, vi.id, 'USD', pl.line_number, pl.item_code, pl.description, x.qty, x.price,
       round(x.qty * x.price, 2)
from public.vendor_invoices vi
join bench_plan b on 'INV-' || b.p = vi.invoice_number
join public.purchase_order_lines pl on pl.purchase_order_id = b.po_id
cross join lateral (
  select case when b.p %% 25 = 1 and pl.line_number = 2 then pl.quantity + 2
              else pl.quantity end as qty,
         case when b.p %% 25 = 2 and pl.line_number = 3 then round(pl.unit_price * 1.10, 4)
              when b.p %% 25 in (4, 5) and pl.line_number = 1 then round(pl.unit_price * 1.01, 4)
              else pl.unit_price end as price
) x
where vi.organization_id = %(org)s;

update public.vendor_invoices vi
set subtotal = s.total, tax_amount = round(s.total * 0.1, 2),
    total_amount = s.total + round(s.total * 0.1, 2)
from (select vendor_invoice_id, sum(amount) as total from public.vendor_invoice_lines
      where organization_id = %(org)s group by vendor_invoice_id) s
where vi.id = s.vendor_invoice_id;

insert into public.reconciliation_settings (organization_id, price_tolerance_percent)
values (%(org)s, 2);
"""

BASELINE_SQL = """
select count(*), sum(l.amount), sum(r.qty)
from public.vendor_invoices vi
join public.vendor_invoice_lines l on l.vendor_invoice_id = vi.id
left join public.purchase_orders po on po.organization_id = vi.organization_id
  and po.normalized_po_number = private.normalize_document_number(vi.po_number)
left join public.purchase_order_lines pl on pl.purchase_order_id = po.id
  and pl.normalized_item_code = l.normalized_item_code
left join (select purchase_order_line_id, sum(quantity_received) as qty
           from public.goods_receipt_lines group by 1) r on r.purchase_order_line_id = pl.id
where vi.organization_id = %(org)s and vi.status = 'pending'
"""


def _load(conn: Conn, invoices: int) -> str:
    row = conn.execute("select tests.create_supabase_user('recon-bench')::text").fetchone()
    assert row is not None
    org_row = conn.execute("select tests.personal_org('recon-bench')::text").fetchone()
    assert org_row is not None
    org = str(org_row[0])
    started = time.perf_counter()
    with conn.transaction():
        for statement in LOAD_SQL.split(";\n\n"):
            if statement.strip():
                conn.execute(statement, {"org": org, "n": invoices})
    elapsed = time.perf_counter() - started
    log(f"loaded {invoices} invoices x 5 lines, POs and receipts in {elapsed:.1f} s")
    conn.execute("vacuum analyze")
    return org


def _rolled_back(
    conn: Conn, sql: str, params: dict[str, Any], before: str | None = None
) -> tuple[float, Any]:
    with conn.transaction(force_rollback=True):
        if before:
            conn.execute(before, params)
        started = time.perf_counter()
        result = conn.execute(sql, params).fetchone()
        return time.perf_counter() - started, result


def _receipt_cost(conn: Conn, org: str, auto: bool) -> float:
    """2,000 more receipt lines (one statement) for 400 POs whose invoices are pending."""
    params = {"org": org, "auto": auto}
    with conn.transaction(force_rollback=True):
        conn.execute(
            "update public.reconciliation_settings set auto_rematch = %(auto)s"
            " where organization_id = %(org)s",
            params,
        )
        conn.execute(
            "insert into public.goods_receipts (organization_id, purchase_order_id, receipt_number)"
            " select %(org)s, po.id, 'GR-EXTRA-' || po.po_number from public.purchase_orders po"
            " where po.organization_id = %(org)s order by po.po_number limit 400",
            params,
        )
        started = time.perf_counter()
        conn.execute(
            "insert into public.goods_receipt_lines (organization_id, goods_receipt_id,"
            " purchase_order_line_id, quantity_received)"
            " select %(org)s, g.id, pl.id, 1 from public.goods_receipts g"
            " join public.purchase_order_lines pl on pl.purchase_order_id = g.purchase_order_id"
            " where g.organization_id = %(org)s and g.receipt_number like 'GR-EXTRA-%%'",
            params,
        )
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    machine = Machine.describe()
    with test_database() as db, connect(db.url) as conn:
        installed = conn.execute("select to_regnamespace('tests') is not null").fetchone()
        if not (installed and installed[0]):
            setup = pgtap.run_file(db.url, pgtap.SETUP_FILE)
            if not setup.ok:
                raise RuntimeError(setup.explain())
        org = _load(conn, args.invoices)
        params = {"org": org}
        ids_sql = (
            "select public.match_vendor_invoices(%(org)s, (select array_agg(id)"
            " from public.vendor_invoices where organization_id = %(org)s))"
        )
        series: dict[str, list[float]] = {"baseline": [], "match all": [], "re-match": []}
        outcome: Any = None
        for i in range(args.rounds):
            base, _ = _rolled_back(conn, BASELINE_SQL, params)
            series["baseline"].append(base)
            seconds, outcome = _rolled_back(
                conn, "select public.match_vendor_invoices(%(org)s)", params
            )
            series["match all"].append(seconds)
            again, _ = _rolled_back(
                conn, ids_sql, params, before="select public.match_vendor_invoices(%(org)s)"
            )
            series["re-match"].append(again)
            log(
                f"round {i + 1}: baseline {base:.2f} s, match {seconds:.2f} s,"
                f" re-match {again:.2f} s"
            )
        receipts: dict[str, list[float]] = {"auto_rematch off": [], "auto_rematch on": []}
        for _ in range(args.rounds):
            receipts["auto_rematch off"].append(_receipt_cost(conn, org, auto=False))
            receipts["auto_rematch on"].append(_receipt_cost(conn, org, auto=True))
    base = statistics.median(series["baseline"])
    rows = []
    for name, values in series.items():
        median = statistics.median(values)
        ok = "" if name == "baseline" else ("PASS" if median <= BUDGET_S else "FAIL")
        rows.append((name, fmt_s(median), fmt_s(max(values)), fmt_ratio(ratio(median, base)), ok))
    print()
    first = outcome[0] if outcome else None
    print(f"{args.invoices} invoices x 5 lines; outcome of one matching: {first}")
    print(table(("run", "median s", "max s", "vs baseline", f"<= {BUDGET_S:.0f} s"), rows))
    off = statistics.median(receipts["auto_rematch off"])
    receipt_rows = [
        (name, fmt_s(statistics.median(v)), fmt_ratio(ratio(statistics.median(v), off)))
        for name, v in receipts.items()
    ]
    print()
    print("2,000 receipt lines in one insert (400 POs with pending invoices):")
    print(table(("receipts insert", "median s", "vs off"), receipt_rows))
    print()
    print(
        f"machine: {machine.nproc} cores, {machine.cpu_model}; {machine.postgres_binary};"
        f" load {machine.loadavg_start} -> {loadavg()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
