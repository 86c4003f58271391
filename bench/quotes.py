"""``python -m bench.quotes``: the quote expiry job's call (migration
20261206110300_quotes.sql), against the statement timeout of docs/architecture.md;
``python -m bench.quotes --api URL``: the quote routes' latency through a running
``make dev`` (the demo login; quotes of 10 items created, accepted, converted, printed).

* One ephemeral PostgreSQL with the migrations and the seed.
* ORGS organizations, each with a client and QUOTES sent quotes whose valid_until is
  1 to 20 days past (inserted by the superuser, their numbers given: the counter is timed
  by bench.numbering).
* Timed: ``public.job_expire_quotes(2000)`` as the service role until a call expires
  fewer (each call one UPDATE of at most 2,000 rows, the row triggers and the audit
  included), then one more call that finds nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
import psycopg

from devstack import postgres

SEED = """
with o as (
  insert into public.organizations (name)
  select 'Bench quotes ' || g from generate_series(1, %(orgs)s) g returning id
), s as (
  insert into public.organization_settings (organization_id, time_zone)
  select id,
         (array['UTC', 'Pacific/Auckland', 'America/Los_Angeles'])[1 + (row_number() over ()) %% 3]
  from o returning organization_id
)
insert into public.clients (organization_id, company_name, currency)
select organization_id, 'Bench client', 'USD' from s
"""

QUOTES = """
alter table public.quotes disable trigger a_complete_new_quote;
insert into public.quotes (organization_id, client_id, currency, quote_number, issue_date,
                           valid_until, status)
select c.organization_id, c.id, 'USD', 'B-' || g, current_date - 60,
       current_date - 1 - (g %% 20), 'draft'
from public.clients c cross join generate_series(1, %(quotes)s) g
where c.company_name = 'Bench client';
alter table public.quotes enable trigger a_complete_new_quote;
update public.quotes set status = 'sent' where quote_number like 'B-%%';
"""


def routes(api: str, rounds: int = 40) -> None:
    http = httpx.Client(base_url=api, timeout=30)
    login = {"email": "demo@invoiceflow.local", "password": "invoiceflow-demo"}
    token = http.post("/api/auth/login", json=login).json()["session"]["access_token"]
    headers = {"authorization": f"Bearer {token}"}
    items = [{"description": f"Item {i}", "quantity": 1, "rate": 10 + i} for i in range(10)]
    body = {"client_id": "c0000000-0000-4000-8000-000000000001", "items": items}
    times: dict[str, list[float]] = {"create": [], "accept": [], "convert": [], "pdf": []}

    def timed(kind: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        start = time.perf_counter()
        reply = http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        times[kind].append(time.perf_counter() - start)
        assert reply.status_code < 300, reply.text
        return reply

    for _ in range(rounds):
        quote = timed("create", "POST", "/api/quotes", json=body).json()
        http.patch(f"/api/quotes/{quote['id']}", headers=headers, json={"status": "sent"})
        timed("accept", "POST", f"/api/quotes/{quote['id']}/accept")
        timed("convert", "POST", f"/api/quotes/{quote['id']}/convert")
        timed("pdf", "GET", f"/api/quotes/{quote['id']}/pdf")
    for kind, values in times.items():
        kept = sorted(values[5:])  # the first calls warm the functions
        p95 = kept[max(0, int(len(kept) * 0.95) - 1)]
        print(f"{kind:8s} p50 {statistics.median(kept) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quotes", description=__doc__)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--quotes", type=int, default=100, help="sent quotes per organization")
    parser.add_argument("--api", help="the routes through this running make dev instead")
    args = parser.parse_args()
    if args.api:
        routes(args.api)
        return
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=True)
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(SEED, {"orgs": args.orgs})
            for statement in QUOTES.split(";\n"):
                if statement.strip():
                    conn.execute(statement, {"quotes": args.quotes})
            conn.execute("vacuum analyze public.quotes")
            conn.execute("set role service_role")
            calls: list[tuple[int, float]] = []
            while True:
                start = time.perf_counter()
                row = conn.execute("select public.job_expire_quotes(2000)").fetchone()
                elapsed = time.perf_counter() - start
                expired = int(row[0]["expired"]) if row else 0
                calls.append((expired, elapsed))
                if expired < 2000:
                    break
            total = sum(n for n, _ in calls)
            slowest = max(t for _, t in calls)
            print(
                f"{args.orgs} organizations x {args.quotes} sent quotes past due: {total} expired"
                f" in {len(calls)} calls, {sum(t for _, t in calls):.2f} s; slowest call"
                f" {slowest:.3f} s; the last call (nothing left) {calls[-1][1] * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
