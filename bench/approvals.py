"""``python -m bench.approvals``: the approval queue's cost (issue 20's budget: p95 <= 50 ms
with 10,000 pending invoices), through payablesApi's handler against the local stack.

* One ephemeral PostgreSQL with the migrations; organization A with an owner, an admin and
  a member, 10,000 vendor invoices (``--invoices``) entering ``matched`` in one statement
  (the approval trigger opens their rounds: half EUR under a two-step rule, half USD with
  the default step), 80 % imported by the member and 20 % by the admin (separation of
  duties keeps those from the admin's queue); organization B with as many beside it.
* Timed through ``handler(event, context)`` in process with the local PostgREST and Auth
  (``devstack.stack.serve``), each call a GET /api/payables/approvals: the owner's first
  page (50), the admin's first page (the filtered case), the owner's page after the 5,000th step
  (keyset paging: ``after`` the previous page's last step),
  then approving 100 invoices one by one (POST .../approve, the owner). 200 calls each
  after 20 warm-up calls; median and 95th percentile.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

import httpx

from bench.common import Summary, connect, log, user_token
from devstack import postgres
from devstack.functions import FunctionHost, http_event, load_functions
from devstack.stack import serve
from shared import db
from shared.settings import get_settings

BUDGET_MS = 50.0

USERS = """
insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at,
                        email_confirmed_at)
values (%(owner)s, 'authenticated', 'authenticated', %(owner_mail)s,
        '{"business_name": "Bench payables"}', now(), now(), now()),
       (%(admin)s, 'authenticated', 'authenticated', %(admin_mail)s, '{}', now(), now(), now()),
       (%(member)s, 'authenticated', 'authenticated', %(member_mail)s, '{}', now(), now(), now())
"""

INVOICES = """
insert into public.vendor_invoices (organization_id, vendor_id, vendor_name, invoice_number,
  invoice_date, currency, subtotal, total_amount, created_by)
select %(org)s, %(vendor)s, 'Bench Vendor', 'B-' || g, current_date - (g %% 300),
       case when g %% 2 = 0 then 'EUR' else 'USD' end, 100 + g, 100 + g,
       case when g %% 5 = 0 then %(admin)s::uuid else %(member)s::uuid end
from generate_series(1, %(n)s) g
"""


def _org_of(conn: Any, user: str) -> str:
    row = conn.execute(
        "select organization_id::text from public.memberships"
        " where user_id = %s and role = 'owner'",
        (user,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def load(conn: Any, n: int) -> dict[str, str]:
    people: dict[str, str] = {}
    for tenant in ("a", "b"):
        ids = {k: str(uuid.uuid4()) for k in ("owner", "admin", "member")}
        conn.execute(
            USERS,
            {
                **ids,
                **{f"{k}_mail": f"{k}-{tenant}@bench.invoiceflow.local" for k in ids},
            },
        )
        org = _org_of(conn, ids["owner"])
        for role in ("admin", "member"):
            conn.execute(
                "insert into public.memberships (organization_id, user_id, role)"
                " values (%s, %s, %s)",
                (org, ids[role], role),
            )
        vendor = conn.execute(
            "insert into public.vendors (organization_id, name) values (%s, 'Bench Vendor')"
            " returning id::text",
            (org,),
        ).fetchone()[0]
        conn.execute(
            "insert into public.approval_rules (organization_id, name, priority, currency, steps)"
            " values (%s, 'EUR: two steps', 1, 'EUR',"
            ' \'[{"approver_role": "admin"}, {"approver_role": "owner"}]\')',
            (org,),
        )
        conn.execute(INVOICES, {"org": org, "vendor": vendor, "n": n, **ids})
        started = time.perf_counter()
        conn.execute(
            "update public.vendor_invoices set status = 'matched' where organization_id = %s",
            (org,),
        )
        log(
            f"tenant {tenant}: {n} invoices matched, their rounds opened in "
            f"{time.perf_counter() - started:.1f} s"
        )
        conn.execute("analyze")
        if tenant == "a":
            people = {**ids, "org": org}
    return people


def _call(
    host: FunctionHost, token: str, org: str, method: str, path: str, *, query: str = ""
) -> float:
    spec, params, _ = host.match(method, path)
    assert spec is not None, path
    event = http_event(
        spec,
        method,
        path,
        query,
        {"authorization": f"Bearer {token}", "x-organization-id": org},
        b"",
        params,
    )
    handler = host.handler(spec)

    def one() -> float:
        started = time.perf_counter()
        result = handler(event, None)
        elapsed = (time.perf_counter() - started) * 1000
        if result["statusCode"] >= 400:
            raise RuntimeError(f"{path}: {result['statusCode']} {result['body'][:300]}")
        return elapsed

    return host._pool.submit(one).result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    results: dict[str, Summary] = {}
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:
            people = load(conn, args.invoices)
            row = conn.execute(
                "select count(*) from public.vendor_invoice_approvals"
                " where organization_id = %s and status = 'pending'",
                (people["org"],),
            ).fetchone()
            pending = row[0] if row else 0
            log(f"organization A: {pending} pending steps")
            # The SQL alone, as PostgREST runs it for the route (role and claims set).
            conn.execute("set role authenticated")
            conn.execute(
                "select set_config('request.jwt.claims', %s, false)",
                (f'{{"sub": "{people["owner"]}", "role": "authenticated"}}',),
            )
            took = []
            for i in range(20 + args.calls):
                started = time.perf_counter()
                conn.execute(
                    "select public.approval_queue(%s, 50, null)", (people["org"],)
                ).fetchall()
                if i >= 20:
                    took.append((time.perf_counter() - started) * 1000)
            results["the SQL function alone (owner, first page)"] = Summary.of(took)
            conn.execute("reset role")
        gateway = serve(cluster.url)
        try:
            keys = gateway.config.keys
            os.environ.update(
                {
                    "SUPABASE_URL": gateway.url,
                    "SUPABASE_ANON_KEY": keys.anon_key,
                    "SUPABASE_JWT_SECRET": keys.jwt_secret,
                    "LOG_LEVEL": "WARNING",
                    "RATE_LIMIT_PER_WINDOW": "1000000",
                }
            )
            get_settings.cache_clear()
            db._Instance.http = httpx.Client(timeout=10)
            host = FunctionHost(load_functions())
            owner = user_token(keys.jwt_secret, people["owner"])
            admin = user_token(keys.jwt_secret, people["admin"])
            with connect(cluster.admin_url) as conn:
                found = conn.execute(
                    "select id::text from public.vendor_invoice_approvals"
                    " where organization_id = %s and status = 'pending'"
                    " order by activated_at, id offset 4999 limit 1",
                    (people["org"],),
                ).fetchone()
                assert found is not None
                deep = found[0]
            cases = [
                ("owner, first page of 50", owner, "page_size=50"),
                ("admin, first page of 50 (20 % kept from the admin)", admin, "page_size=50"),
                ("owner, the page after the 5,000th step", owner, f"page_size=50&after={deep}"),
            ]
            for label, token, query in cases:
                for _ in range(20):
                    _call(host, token, people["org"], "GET", "/api/payables/approvals", query=query)
                took = [
                    _call(host, token, people["org"], "GET", "/api/payables/approvals", query=query)
                    for _ in range(args.calls)
                ]
                results[label] = Summary.of(took)
                log(f"{label}: p50 {results[label].median:.1f} ms, p95 {results[label].p95:.1f} ms")
            with connect(cluster.admin_url) as conn:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "select vendor_invoice_id::text from public.vendor_invoice_approvals"
                        " where organization_id = %s and status = 'pending'"
                        " and approver_role = 'admin' order by activated_at, id limit 120",
                        (people["org"],),
                    )
                ]
            took = [
                _call(host, owner, people["org"], "POST", f"/api/payables/approvals/{i}/approve")
                for i in ids
            ]
            results["owner approves one step (POST .../approve)"] = Summary.of(took[20:])
            log(f"approve: p95 {results['owner approves one step (POST .../approve)'].p95:.1f} ms")
            host.close()
        finally:
            gateway.stop()
    worst = max(s.p95 for label, s in results.items() if "page" in label and "SQL" not in label)
    print(f"\nqueue p95 worst case {worst:.1f} ms; budget {BUDGET_MS:.0f} ms")
    for label, summary in results.items():
        print(f"| {label} | {summary.median:.1f} | {summary.p95:.1f} | {summary.n} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
