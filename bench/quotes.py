"""``python -m bench.quotes``: the quote expiry job's call (migration
20261206110300_quotes.sql), against the statement timeout of docs/architecture.md.

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
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quotes", description=__doc__)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--quotes", type=int, default=100, help="sent quotes per organization")
    args = parser.parse_args()
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
