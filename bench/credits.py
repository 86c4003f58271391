"""``python -m bench.credits``: what the credit writes cost (migration
20261206110200_credit_notes.sql).

* One ephemeral PostgreSQL with the migrations and the seed; the demo organization, with
  overpayments kept as credit; one client with N sent invoices of 220.00 (two items, 10 %
  tax).
* Timed, each call in its own transaction (autocommit), on one connection without a JWT
  (the RPCs' role check passes, RLS aside): a payment of 250.00 on each invoice (30.00
  kept as credit), a credit note of 50.00 on each paid invoice (its excess to the client's
  credit), a refund of 1.00 from the credit, a whole credit note on each (the rest: the
  invoice cancelled), and the client's credit read (balance and 100 ledger entries).
  Median and 95th percentile per call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import psycopg

from devstack.postgres import bootstrap, ephemeral_cluster

Conn = psycopg.Connection[tuple[Any, ...]]


def _timed(conn: Conn, sql: str, params: list[tuple[Any, ...]]) -> str:
    took: list[float] = []
    for p in params:
        start = time.perf_counter()
        conn.execute(sql, p).fetchone()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
    return f"p50 {statistics.median(took):.2f} ms, p95 {p95:.2f} ms (n={len(took)})"


def run(n: int) -> list[tuple[str, str]]:
    with ephemeral_cluster() as cluster:
        bootstrap(cluster.url, seed=True)
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            row = conn.execute(
                "select m.organization_id from public.memberships m"
                " join auth.users u on u.id = m.user_id"
                " where u.email = 'demo@invoiceflow.local'"
            ).fetchone()
            assert row is not None
            org = row[0]
            client_row = conn.execute(
                "insert into public.clients (organization_id, company_name, currency)"
                " values (%s, 'Bench credits', 'USD') returning id",
                (org,),
            ).fetchone()
            assert client_row is not None
            client = str(client_row[0])
            conn.execute(
                "update public.organization_settings set overpayment = 'credit'"
                " where organization_id = %s",
                (org,),
            )
            invoice = {"client_id": client, "status": "sent", "tax_rate": "10"}
            items = [
                {"description": "a", "quantity": 2, "rate": "50"},
                {"description": "b", "quantity": 1, "rate": "100"},
            ]
            invoices = []
            for _ in range(n):
                made = conn.execute(
                    "select public.create_invoice(%s, %s::jsonb, %s::jsonb) ->> 'id'",
                    (org, json.dumps(invoice), json.dumps(items)),
                ).fetchone()
                assert made is not None
                invoices.append(made[0])
            each = [(org, i) for i in invoices]
            refund = json.dumps({"client_id": client, "amount": "1.00"})
            return [
                (
                    "record_payment 250.00 of 220.00 (30.00 kept as credit)",
                    _timed(conn, "select public.record_payment(%s, %s, 250)", each),
                ),
                (
                    "create_credit_note amount 50.00 on a paid invoice (excess to credit)",
                    _timed(
                        conn,
                        "select public.create_credit_note(%s, %s,"
                        ' \'{"kind": "amount", "amount": 50}\')',
                        each,
                    ),
                ),
                (
                    "record_refund 1.00 from client credit",
                    _timed(conn, "select public.record_refund(%s, %s::jsonb)", [(org, refund)] * n),
                ),
                (
                    "create_credit_note whole (the rest; the invoice cancelled)",
                    _timed(
                        conn,
                        'select public.create_credit_note(%s, %s, \'{"kind": "whole"}\')',
                        each,
                    ),
                ),
                (
                    "client_credit (balance and 100 of the ledger's entries)",
                    _timed(conn, "select public.client_credit(%s, %s)", [(org, client)] * n),
                ),
            ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=200, help="invoices (calls per kind)")
    args = parser.parse_args()
    for name, figures in run(args.n):
        print(f"{name}: {figures}")


if __name__ == "__main__":
    main()
