"""``python -m bench.numbering``: what a document number costs since the numbering
patterns (migration 20261206110100_time_zone_and_numbering.sql).

* One ephemeral PostgreSQL with the migrations and the seed; the demo organization.
* Timed, each call in a transaction of its own (as a creation is), on one connection
  without a JWT (as the jobs and the seed call it):
    - ``before``: the counter as it was, private.assign_invoice_number of the invoices
      migration (copied here as pg_temp code, since the migration replaced it);
    - ``invoice, never``: private.next_document_number for invoices that never reset
      (the same counter, organization_settings.next_invoice_number, after the settings
      row's lock);
    - ``yearly``: a counter of document_counters (the quote type with a yearly pattern);
    - ``insert, never`` and ``insert, yearly``: a whole invoice row inserted without a
      number (the row triggers and the audit included), by pattern.
  Rounds of N calls each, the kinds interleaved round by round; the median per call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg

from devstack import postgres

OLD_COUNTER = """
create function pg_temp.assign_invoice_number(organization_id uuid) returns text
language plpgsql as $$
declare
  candidate text;
begin
  loop
    update public.organization_settings s
    set next_invoice_number = s.next_invoice_number + 1
    where s.organization_id = assign_invoice_number.organization_id
    returning s.invoice_prefix || case
        when length((s.next_invoice_number - 1)::text) >= s.invoice_number_padding
          then (s.next_invoice_number - 1)::text
        else lpad((s.next_invoice_number - 1)::text, s.invoice_number_padding, '0')
      end
    into candidate;
    exit when not exists (
      select 1 from public.invoices i
      where i.organization_id = assign_invoice_number.organization_id
        and i.invoice_number = candidate);
  end loop;
  return candidate;
end;
$$
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()

    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=True)
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(OLD_COUNTER)
            row = conn.execute(
                "select o.id, c.id from public.organizations o"
                " join public.clients c on c.organization_id = o.id"
                " where o.personal and o.created_by = 'd0000000-0000-4000-8000-000000000001'"
                " limit 1"
            ).fetchone()
            assert row is not None
            org, client = row
            conn.execute(
                "update public.organization_settings set quote_number_pattern = 'Q{YYYY}-{SEQ:4}',"
                " quote_number_reset = 'yearly' where organization_id = %s",
                (org,),
            )
            insert = (
                "insert into public.invoices (organization_id, client_id, issue_date)"
                " values (%s, %s, '2031-06-01')"
            )
            kinds: dict[str, tuple[str, tuple[object, ...], str | None]] = {
                "before (assign_invoice_number)": (
                    "select pg_temp.assign_invoice_number(%s)",
                    (org,),
                    None,
                ),
                "invoice, never": (
                    "select private.next_document_number(%s, 'invoice', '2031-06-01')",
                    (org,),
                    None,
                ),
                "yearly (document_counters)": (
                    "select private.next_document_number(%s, 'quote', '2031-06-01')",
                    (org,),
                    None,
                ),
                "insert, never": (insert, (org, client), "N-{SEQ:6}"),
                "insert, yearly": (insert, (org, client), "Y{YYYY}-{SEQ:6}"),
            }
            per_call: dict[str, list[float]] = {k: [] for k in kinds}
            for _ in range(args.rounds):
                for name, (sql, params, pattern) in kinds.items():
                    if pattern is not None:
                        conn.execute(
                            "update public.organization_settings set invoice_number_pattern"
                            " = %s, invoice_number_reset = %s where organization_id = %s",
                            (pattern, "yearly" if "{YYYY}" in pattern else "never", org),
                        )
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        with conn.transaction():
                            conn.execute(sql, params)
                    per_call[name].append((time.perf_counter() - start) / args.calls * 1000)
            print(f"{args.rounds} rounds of {args.calls} transactions; median ms per call")
            for name, values in per_call.items():
                print(f"  {name:32} {statistics.median(values):7.3f}")


if __name__ == "__main__":
    main()
