"""Matching's cost per invoice at several trees, side by side (issue 19's matching share).

    .venv/bin/python -m bench.matching_speed TREE [TREE ...] [--invoices 1000] [--rounds 3]
        [--chunk 100] [--warm 8] [--auto-explain]

Each TREE is a directory holding ``supabase/migrations`` (and
``supabase/tests/000-setup-tests-helpers.sql``), e.g. ``git archive <commit> supabase | tar
-x -C /tmp/tree``; ``.`` is this checkout. Every tree gets its own fresh cluster with its
migrations. Each round, in every cluster (not timed): a new organization with 50 vendors,
``--invoices`` purchase orders of 3 lines (matched by description, as an e-invoice's lines
are), a receipt of each in full and one pending vendor invoice of 3 lines against each,
billed exactly (prices drawn per PO line, so that no two invoices of a vendor have the same
total: all matched, as bench/einvoice_import.py's are). Timed:
``public.match_vendor_invoices(org, ids)`` over those invoices in calls of ``--chunk`` ids,
each call its own committed transaction as PostgREST runs it (role ``authenticated``, the
member's ``request.jwt.claims``), the trees' turns rotated each round. Before the first
round each session first matches ``--warm`` invoices one a call (untimed), as PostgREST's
pooled connections meet small calls before large ones: a statement planned for small
transition tables keeps that plan in the session. Prints milliseconds per invoice per tree
and the ratio to the first tree.

``--auto-explain`` logs (to the cluster's log, printed at the end for the last tree) the
plans of the statements nested in the last round's first call that take over 10 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import Conn, Machine, connect, loadavg, log, table
from devstack import postgres

VENDORS = 50

LOAD_SQL = """
insert into public.vendors (organization_id, name)
select %(org)s, format('Vendor %%s of round %%s GmbH', v, %(round)s)
from generate_series(1, %(vendors)s) v;

insert into public.purchase_orders (organization_id, vendor_id, po_number, currency, order_date)
select %(org)s, v.id, format('PO-%%s-%%s', %(round)s, p), 'EUR', current_date - 20
from generate_series(1, %(n)s) p
join (select row_number() over (order by id) as k, id from public.vendors
      where organization_id = %(org)s) v on v.k = 1 + p %% %(vendors)s;

insert into public.purchase_order_lines (organization_id, purchase_order_id, currency,
  line_number, description, quantity, unit_price)
select %(org)s, po.id, 'EUR', l, format('Article %%s', l), 1 + l * 3,
       round(5 + (abs(hashtext(po.po_number || '/' || l)) %% 90000) / 100.0, 2)
from public.purchase_orders po
cross join generate_series(1, 3) l
where po.organization_id = %(org)s;

insert into public.goods_receipts (organization_id, purchase_order_id, receipt_number,
  received_date)
select %(org)s, po.id, 'GR-' || po.po_number, current_date - 15
from public.purchase_orders po where po.organization_id = %(org)s;

insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id,
  quantity_received)
select %(org)s, g.id, pl.id, pl.quantity
from public.goods_receipts g
join public.purchase_order_lines pl on pl.purchase_order_id = g.purchase_order_id
where g.organization_id = %(org)s;

insert into public.vendor_invoices (organization_id, vendor_id, vendor_name, invoice_number,
  invoice_date, po_number, currency, subtotal, tax_amount, total_amount)
select %(org)s, po.vendor_id, v.name, 'INV-' || po.po_number, current_date - 5, po.po_number,
       'EUR', 0, 0, 0
from public.purchase_orders po join public.vendors v on v.id = po.vendor_id
where po.organization_id = %(org)s;

insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number,
  description, quantity, unit_price, amount)
select %(org)s, vi.id, 'EUR', pl.line_number, pl.description, pl.quantity, pl.unit_price,
       round(pl.quantity * pl.unit_price, 2)
from public.vendor_invoices vi
join public.purchase_orders po on po.organization_id = vi.organization_id
  and po.po_number = vi.po_number
join public.purchase_order_lines pl on pl.purchase_order_id = po.id
where vi.organization_id = %(org)s;

update public.vendor_invoices vi
set subtotal = s.total, tax_amount = round(s.total * 0.19, 2),
    total_amount = s.total + round(s.total * 0.19, 2)
from (select vendor_invoice_id, sum(amount) as total from public.vendor_invoice_lines
      where organization_id = %(org)s group by vendor_invoice_id) s
where vi.id = s.vendor_invoice_id
"""


class Tree:
    def __init__(self, root: Path, stack: contextlib.ExitStack) -> None:
        self.root = root
        self.name = str(root)
        self.cluster = stack.enter_context(postgres.ephemeral_cluster())
        postgres.bootstrap(
            self.cluster.url, seed=False, migrations_dir=root / "supabase" / "migrations"
        )
        self.conn: Conn = stack.enter_context(connect(self.cluster.url))
        # auto_explain's settings are the superuser's; the call itself runs as authenticated.
        self.admin: Conn = stack.enter_context(connect(self.cluster.admin_url))
        self.conn.execute((root / "supabase/tests/000-setup-tests-helpers.sql").read_text())
        self.per_invoice: list[float] = []
        self.outcomes: list[Any] = []
        self.calls: list[int] = []

    def load(self, round_: int, invoices: int) -> tuple[str, str, list[str]]:
        ident = f"ms-{round_}"
        made = self.conn.execute("select tests.create_supabase_user(%s)::text", (ident,))
        uid = str(made.fetchone()[0])  # type: ignore[index]
        found = self.conn.execute("select tests.personal_org(%s)::text", (ident,))
        org = str(found.fetchone()[0])  # type: ignore[index]
        params = {"org": org, "n": invoices, "round": round_, "vendors": VENDORS}
        with self.conn.transaction():
            for statement in LOAD_SQL.split(";\n\n"):
                self.conn.execute(statement, params)
        self.conn.execute("analyze")
        ids = [
            str(r[0])
            for r in self.conn.execute(
                "select id from public.vendor_invoices where organization_id = %s"
                " and status = 'pending' order by invoice_number",
                (org,),
            )
        ]
        return uid, org, ids

    def match(self, uid: str, org: str, ids: list[str], chunk: int, explain: bool) -> float:
        claims = json.dumps({"sub": uid, "role": "authenticated", "aud": "authenticated"})
        spent = 0.0
        self.calls = []
        totals: dict[str, int] = {}
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            with self.admin.transaction():
                if explain and start == 0:
                    self.admin.execute("load 'auto_explain'")
                    self.admin.execute("set local auto_explain.log_min_duration = '10ms'")
                    self.admin.execute("set local auto_explain.log_nested_statements = on")
                    self.admin.execute("set local auto_explain.log_analyze = on")
                    self.admin.execute("set local auto_explain.log_buffers = on")
                self.admin.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
                self.admin.execute("set local role authenticated")
                started = time.perf_counter()
                row = self.admin.execute(
                    "select public.match_vendor_invoices(%s::uuid, %s::uuid[])", (org, part)
                ).fetchone()
                spent += time.perf_counter() - started
            self.calls.append(round(1000 * (time.perf_counter() - started)))
            result = row[0] if row else {}
            for key in ("matched", "matched_with_tolerance", "exception"):
                totals[key] = totals.get(key, 0) + int(result.get(key, 0))
        self.outcomes.append(totals)
        return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching_speed")
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument(
        "--warm", type=int, default=8, help="one-invoice calls first in each session (untimed)"
    )
    parser.add_argument("--auto-explain", action="store_true")
    args = parser.parse_args(argv)
    machine = Machine.describe()
    loads = [loadavg()]
    with contextlib.ExitStack() as stack:
        trees = []
        for root in args.trees:
            log(f"cluster for {root}")
            trees.append(Tree(root.resolve(), stack))
        for round_ in range(args.rounds):
            loaded = [t.load(round_, args.invoices) for t in trees]
            turn = trees[round_ % len(trees) :] + trees[: round_ % len(trees)]
            for tree in turn:
                uid, org, ids = loaded[trees.index(tree)]
                if round_ == 0 and args.warm:
                    tree.match(uid, org, ids[: args.warm], 1, False)
                    ids = ids[args.warm :]
                explain = args.auto_explain and round_ == args.rounds - 1
                seconds = tree.match(uid, org, ids, args.chunk, explain)
                tree.per_invoice.append(1000 * seconds / len(ids))
                log(
                    f"round {round_ + 1}: {tree.name}: {seconds:.2f} s, calls (ms) {tree.calls}"
                    f" ({loadavg()})"
                )
            loads.append(loadavg())
        base = statistics.median(trees[0].per_invoice)
        rows = []
        for tree in trees:
            median = statistics.median(tree.per_invoice)
            rows.append(
                [tree.name, f"{median:.2f}", f"{max(tree.per_invoice):.2f}",
                 f"{median / base:.2f}x", json.dumps(tree.outcomes[-1])]
            )  # fmt: skip
        print(
            f"{args.invoices} invoices x 3 lines, {args.chunk} a call, {args.rounds} rounds;"
            f" machine: {machine.nproc} cores; load {' -> '.join(loads)}"
        )
        print(table(["tree", "ms/invoice median", "max", "vs first", "outcome"], rows))
        if args.auto_explain:
            print(trees[-1].cluster.logfile.read_text()[-400_000:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
