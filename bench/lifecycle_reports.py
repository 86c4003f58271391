"""``python -m bench.lifecycle_reports``: what the billing lifecycle costs the dashboard
and report RPCs (20261206110600_lifecycle_reports.sql) against the reports migration's
versions (20261206100900_reports.sql, loaded beside them as ``bench_old.*``), in the same
cluster and run.

One ephemeral PostgreSQL with the migrations and the seed; the demo organization gets
``--invoices`` sent invoices (one item each, issued over the last two years, 200 clients),
60 % of them paid in full, then through the RPCs as its owner: a credit note of 10.00 on
every tenth invoice's worth of paid ones (each past the balance: client credit), a refund
from credit for every third, 100 monthly recurring profiles and 500 quotes. Each call is
made as PostgREST makes it (role ``authenticated``, the owner's claims), warm: 15 calls
per function and version, twice in turn; the second round's median and p95 are kept.
Budget (issue 4's, for the dashboard and reports): p95 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.common import OUT_DIR
from devstack.postgres import bootstrap, ephemeral_cluster

OWNER = "d0000000-0000-4000-8000-000000000001"
CLAIMS = json.dumps({"sub": OWNER, "role": "authenticated"})
REPORTS_MIGRATION = (
    Path(__file__).resolve().parent.parent / "supabase/migrations/20261206100900_reports.sql"
)
FUNCTIONS = (
    "dashboard_metrics",
    "dashboard_revenue_chart",
    "reports_overview",
    "reports_revenue",
    "reports_payment_status",
    "reports_client_performance",
    "dashboard_recent_invoices",
    "dashboard_recent_activities",
)
CALLS = (
    ("dashboard_metrics", "select {s}.dashboard_metrics(%(org)s)"),
    ("dashboard_revenue_chart (36 months)", "select {s}.dashboard_revenue_chart(%(org)s, 36)"),
    ("reports_overview (2 years)", "select {s}.reports_overview(%(org)s, %(f)s, %(t)s)"),
    ("reports_revenue (2 years)", "select {s}.reports_revenue(%(org)s, %(f)s, %(t)s)"),
    (
        "reports_payment_status (2 years)",
        "select {s}.reports_payment_status(%(org)s, %(f)s, %(t)s)",
    ),
    (
        "reports_client_performance (2 years)",
        "select {s}.reports_client_performance(%(org)s, %(f)s, %(t)s)",
    ),
)


def old_functions() -> str:
    """The reports migration's RPCs, renamed into bench_old (its helpers are shared)."""
    text = REPORTS_MIGRATION.read_text()
    body = text[
        text.index("-- A report's date range") : text.index(
            "-- =============================================================================\n"
            "-- Grants"
        )
    ]
    for name in FUNCTIONS:
        body = body.replace(f"public.{name}(", f"bench_old.{name}(")
    body = re.sub(
        r"create or replace function private\.(report_range|report_currency|"
        r"invoice_report_status)\(.*?\n\$\$;\n",
        "",
        body,
        flags=re.S,
    )
    return re.sub(r"comment on function .*?;\n", "", body, flags=re.S)


def load(conn: psycopg.Connection[Any], org: str, invoices: int) -> dict[str, int]:
    params = {"org": org, "n": invoices}
    conn.execute(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " select %(org)s, 'Bench ' || g, 'USD', 'b' || g || '@bench.example'"
        " from generate_series(1, 200) g",
        params,
    )
    conn.execute(
        "with cl as (select id, row_number() over (order by id) as n from public.clients"
        "            where organization_id = %(org)s and company_name like 'Bench %%')"
        " insert into public.invoices (organization_id, client_id, invoice_number, issue_date,"
        "   due_date)"
        " select %(org)s, cl.id, 'B-' || g, current_date - (g %% 700),"
        "   current_date - (g %% 700) + 30"
        " from generate_series(1, %(n)s) g join cl on cl.n = 1 + g %% 200",
        params,
    )
    mine = "invoice_number like 'B-%%' and organization_id = %(org)s"
    conn.execute(
        "insert into public.invoice_items (invoice_id, description, quantity, rate)"
        " select id, 'work', 1, 100 + (id::text ~ '^[0-7]')::int * 400"
        f" from public.invoices where {mine}",
        params,
    )
    conn.execute(f"update public.invoices set status = 'sent' where {mine}", params)
    conn.execute(
        "insert into public.payments (invoice_id, amount, payment_date)"
        f" select id, total_amount, issue_date + 10 from public.invoices where {mine}"
        "   and id::text < '9'",
        params,
    )
    owner = (
        "perform set_config('role', 'authenticated', true);"
        f" perform set_config('request.jwt.claims', '{CLAIMS}', true);"
    )
    conn.execute(
        f"""
        do $$
        declare r record; n int := 0;
        begin
          {owner}
          for r in select i.id, i.client_id from public.invoices i
                   where i.organization_id = '{org}' and i.status = 'paid'
                   order by i.id limit {invoices // 10} loop
            perform public.create_credit_note('{org}', r.id, '{{"kind": "amount", "amount": 10}}');
            n := n + 1;
            if n % 3 = 0 then
              perform public.record_refund('{org}',
                jsonb_build_object('client_id', r.client_id, 'amount', 5));
            end if;
          end loop;
        end $$;
        """
    )
    conn.execute(
        f"""
        do $$
        declare cl record; k int;
        begin
          {owner}
          for cl in select id from public.clients
                    where organization_id = '{org}' and company_name like 'Bench %' limit 100 loop
            perform public.create_recurring_profile('{org}',
              jsonb_build_object('client_id', cl.id, 'frequency', 'monthly'),
              '[{{"description": "plan", "quantity": 1, "rate": "99"}}]');
            for k in 1..5 loop
              perform public.create_quote('{org}', jsonb_build_object('client_id', cl.id),
                '[{{"description": "offer", "quantity": 1, "rate": "250"}}]');
            end loop;
          end loop;
        end $$;
        """
    )
    conn.execute("vacuum analyze")
    names = ("invoices", "payments", "credit_notes", "refunds", "quotes", "recurring_profiles")
    counted: dict[str, int] = {}
    for name in names:
        row = conn.execute(
            f"select count(*) from public.{name} where organization_id = %(org)s", params
        ).fetchone()
        counted[name] = int(row[0]) if row else 0
    return counted


def measure(url: str, org: str, rounds: int = 15) -> list[dict[str, Any]]:
    out = []
    args = {"org": org, "f": "-infinity", "t": None}
    with psycopg.connect(url) as conn:
        today = conn.execute("select current_date").fetchone()
        assert today is not None
        args.update(f=str(today[0].replace(year=today[0].year - 2)), t=str(today[0]))
        for name, query in CALLS:
            kept: dict[str, tuple[float, float]] = {}
            for schema in ("bench_old", "public", "bench_old", "public"):
                conn.execute("set role authenticated")
                conn.execute("select set_config('request.jwt.claims', %s, false)", (CLAIMS,))
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    conn.execute(query.format(s=schema), args).fetchone()
                    times.append((time.perf_counter() - started) * 1000)
                conn.rollback()
                times.sort()
                p95 = times[max(0, int(0.95 * len(times)) - 1)]
                kept[schema] = (round(statistics.median(times), 1), round(p95, 1))
            out.append(
                {
                    "call": name,
                    "before_p50_ms": kept["bench_old"][0],
                    "before_p95_ms": kept["bench_old"][1],
                    "after_p50_ms": kept["public"][0],
                    "after_p95_ms": kept["public"][1],
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle_reports", description=__doc__)
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    with ephemeral_cluster() as cluster:
        bootstrap(cluster.url, seed=True)
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            row = conn.execute(
                "select organization_id::text from public.memberships where user_id = %s", (OWNER,)
            ).fetchone()
            assert row is not None
            org = str(row[0])
            conn.execute("create schema bench_old")
            conn.execute(old_functions())
            conn.execute(
                "grant usage on schema bench_old to authenticated;"
                " grant execute on all functions in schema bench_old to authenticated"
            )
            counted = load(conn, org, args.invoices)
        results = measure(cluster.url, org)
    print("data:", counted)
    print("| call | before p50 / p95 ms | after p50 / p95 ms |")
    print("|---|---|---|")
    for r in results:
        print(
            f"| {r['call']} | {r['before_p50_ms']} / {r['before_p95_ms']}"
            f" | {r['after_p50_ms']} / {r['after_p95_ms']} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lifecycle_reports.json").write_text(
        json.dumps({"data": counted, "calls": results}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
