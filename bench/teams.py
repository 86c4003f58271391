"""``python -m bench.teams``: what the teams lists cost (migration 20261206140100_teams.sql).

* One ephemeral PostgreSQL with the migrations and the seed; an organization with 50
  members and N audit entries (default 100,000: eight tables, five actors, the three
  operations, spread over a year), another organization with as many entries beside it.
* Timed as the admin (role authenticated with the JWT claims, row-level security on),
  each statement as PostgREST runs it for the route: the members list
  (``list_members``), and the audit list's page with its exact count (``GET /api/audit``:
  no filter, by actor, by table, by record, by a month, page 100) and an invoice's history
  (``audit_history``). Median and 95th percentile per call.
* ``--api URL``: instead, the routes' latency through a running ``make dev`` (the demo
  login, its organization): my organizations, the members, the audit list with and without
  a filter; 60 calls each, the first 10 dropped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from typing import Any

import psycopg

from devstack import pgtap
from devstack.postgres import bootstrap, ephemeral_cluster

Conn = psycopg.Connection[tuple[Any, ...]]

TABLES = [
    "public.invoices",
    "public.invoice_items",
    "public.payments",
    "public.clients",
    "public.quotes",
    "public.credit_notes",
    "public.memberships",
    "public.invitations",
]

PAGE = (
    "select id, organization_id, table_name, record_id, operation, old_record, new_record,"
    " changed_by, changed_by_role, transaction_id, changed_at from public.audit_log"
    " where organization_id = %(org)s {filters}"
    " order by changed_at desc, id desc limit 25 offset %(offset)s"
)
COUNT = "select count(*) from public.audit_log where organization_id = %(org)s {filters}"


def _timed(conn: Conn, statements: list[tuple[str, dict[str, Any]]], repeat: int) -> str:
    took: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        for sql, params in statements:
            conn.execute(sql, params).fetchall()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
    return f"p50 {statistics.median(took):.2f} ms, p95 {p95:.2f} ms (n={len(took)})"


def _fill(conn: Conn, org: str, actors: list[str], n: int, invoice: str) -> None:
    conn.execute(
        "insert into public.audit_log (organization_id, table_name, record_id, operation,"
        " old_record, new_record, changed_by, changed_by_role, changed_at)"
        " select %(org)s, (%(tables)s::text[])[1 + g %% 8],"
        "  case when g %% 500 = 0 then %(invoice)s::uuid else gen_random_uuid() end,"
        "  (array['INSERT', 'UPDATE', 'DELETE'])[1 + g %% 3],"
        "  case when g %% 3 > 0 then jsonb_build_object('id', g, 'notes', 'before') end,"
        "  jsonb_build_object('id', g, 'notes', 'after', 'invoice_id',"
        "    case when g %% 97 = 0 then %(invoice)s end),"
        "  (%(actors)s::uuid[])[1 + g %% 5], 'authenticated',"
        "  now() - make_interval(secs => (g::double precision / %(n)s) * 365 * 86400)"
        " from generate_series(1, %(n)s) g",
        {"org": org, "tables": TABLES, "invoice": invoice, "actors": actors, "n": n},
    )


def run(n: int, repeat: int) -> list[tuple[str, str]]:
    with ephemeral_cluster() as cluster:
        bootstrap(cluster.url, seed=True)
        pgtap.run_file(cluster.url, pgtap.SETUP_FILE)  # tests.create_supabase_user
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            admin = conn.execute("select tests.create_supabase_user('bench-admin')").fetchone()
            assert admin is not None
            org = str(
                conn.execute(
                    "select (private.create_organization('Bench Co')).id"
                    " from (select set_config('request.jwt.claims',"
                    " json_build_object('sub', %s::text)::text, false)) s",
                    (str(admin[0]),),
                ).fetchone()[0]  # type: ignore[index]
            )
            conn.execute("select set_config('request.jwt.claims', '', false)")
            actors = [str(admin[0])]
            for i in range(49):
                uid = conn.execute(
                    "select tests.create_supabase_user(%s)", (f"bench-member-{i}",)
                ).fetchone()
                assert uid is not None
                conn.execute(
                    "insert into public.memberships (organization_id, user_id, role)"
                    " values (%s, %s, %s)",
                    (org, uid[0], ("member", "viewer", "admin")[i % 3]),
                )
                if len(actors) < 5:
                    actors.append(str(uid[0]))
            invoice = str(uuid.uuid4())
            _fill(conn, org, actors, n, invoice)
            other = conn.execute(
                "select organization_id from public.memberships limit 1"
            ).fetchone()
            assert other is not None
            _fill(conn, str(other[0]), actors, n, str(uuid.uuid4()))
            conn.execute("analyze public.audit_log")
            conn.execute("vacuum public.audit_log")

        with psycopg.connect(cluster.url, autocommit=False) as conn:
            conn.execute("set role authenticated")
            conn.execute(
                "select set_config('request.jwt.claims', %s, false)",
                (json.dumps({"sub": str(admin[0]), "role": "authenticated"}),),
            )
            month = "changed_at >= now() - interval '60 days'"
            cases = {
                "no filter": "",
                "by actor": f"and changed_by = '{actors[2]}'",
                "by table": "and table_name = 'public.payments'",
                "by record": f"and record_id = '{invoice}'",
                "a month": f"and {month} and changed_at < now() - interval '30 days'",
            }
            results = [
                (
                    "members list (50 members)",
                    _timed(conn, [("select public.list_members(%(org)s)", {"org": org})], repeat),
                )
            ]
            for name, filters in cases.items():
                params = {"org": org, "offset": 0}
                statements = [
                    (PAGE.format(filters=filters), params),
                    (COUNT.format(filters=filters), params),
                ]
                results.append((f"audit list, {name}", _timed(conn, statements, repeat)))
            results.append(
                (
                    "audit list, page 100",
                    _timed(
                        conn,
                        [
                            (PAGE.format(filters=""), {"org": org, "offset": 2475}),
                            (COUNT.format(filters=""), {"org": org}),
                        ],
                        repeat,
                    ),
                )
            )
            results.append(
                (
                    "an invoice's history",
                    _timed(
                        conn,
                        [
                            (
                                "select public.audit_history(%(org)s, 'invoice', %(id)s)",
                                {"org": org, "id": invoice},
                            )
                        ],
                        repeat,
                    ),
                )
            )
            conn.rollback()
        return results


def through_api(url: str) -> list[tuple[str, str]]:
    import httpx  # noqa: PLC0415

    with httpx.Client(base_url=url, timeout=30) as http:
        login = http.post(
            "/api/auth/login",
            json={"email": "demo@invoiceflow.local", "password": "invoiceflow-demo"},
        )
        headers = {"authorization": f"Bearer {login.json()['session']['access_token']}"}
        org = http.get("/api/organizations", headers=headers).json()["data"][0]["id"]
        results = []
        for name, path in (
            ("GET /api/organizations", "/api/organizations"),
            ("GET /api/organizations/{id}/members", f"/api/organizations/{org}/members"),
            ("GET /api/audit", "/api/audit"),
            ("GET /api/audit?table=invoices", "/api/audit?table=invoices"),
        ):
            took = []
            for _ in range(60):
                start = time.perf_counter()
                reply = http.get(path, headers=headers)
                took.append((time.perf_counter() - start) * 1000)
                reply.raise_for_status()
            took = sorted(took[10:])
            p95 = took[int(len(took) * 0.95)]
            results.append(
                (name, f"p50 {statistics.median(took):.1f} ms, p95 {p95:.1f} ms (n={len(took)})")
            )
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--api", help="a running make dev's API URL, e.g. http://127.0.0.1:3000")
    args = parser.parse_args()
    figures = through_api(args.api) if args.api else run(args.entries, args.repeat)
    for name, figure in figures:
        print(f"{name}: {figure}")


if __name__ == "__main__":
    main()
