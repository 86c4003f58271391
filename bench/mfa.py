"""``python -m bench.mfa``: what the MFA restrictive policy costs on the RLS list benchmark
(bench/rls.py's query, migration 20261206140200_require_mfa.sql).

One ephemeral PostgreSQL with every migration and bench/dataset.py's data set (default:
200 organizations, 200,000 invoices, one large organization holding 5 %). The RLS list
query (sent invoices by due date, first page of 25) as ``authenticated`` with the JWT
claims, exactly as bench/rls.py runs it, with and without the filter the API sends, for a
typical owner, a member of 3 organizations and the large organization's owner; each
variant twice in every round, shuffled:

* ``with``: the policies as deployed (the permissive ones and the restrictive
  ``mfa_required``), the organization not requiring MFA (the common case: the lookup of
  the caller's organizations requiring MFA finds none);
* ``without``: the same, with ``mfa_required`` dropped on invoices inside the transaction
  (rolled back): the database as it was before the migration.

Plus, for the member of 3 organizations, one of their other organizations requiring MFA
while querying with an aal1 token (the array is not empty: the per-row comparison runs),
and an aal2 token in an organization that requires MFA (the function's early answer).
The cost is the paired ratio of execution times (EXPLAIN ANALYZE), with planning shown.
Budget: the median paired ratio ≤ 1.10.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

import psycopg

from bench import dataset
from bench.common import Conn, Summary, connect, fmt_ms, fmt_ratio, log, ratio, table, verdict
from devstack import postgres

QUERY = "select * from public.invoices where {filter}status = 'sent' order by due_date limit 25"
BUDGET = 1.10


def _explain(
    conn: Conn, user: str, org: str, *, filtered: bool, drop: bool, aal: str = "aal1"
) -> tuple[float, float]:
    sql = QUERY.format(filter="organization_id = %s and " if filtered else "")
    params: tuple[Any, ...] = (org,) if filtered else ()
    claims = json.dumps({"sub": user, "role": "authenticated", "aal": aal})
    row: tuple[Any, ...] | None = None
    with conn.transaction():
        if drop:
            conn.execute("drop policy mfa_required on public.invoices")
        conn.execute(
            "select set_config('role', 'authenticated', true),"
            " set_config('request.jwt.claims', %s, true)",
            (claims,),
        )
        row = conn.execute("explain (analyze, buffers, format json) " + sql, params).fetchone()
        if drop:
            raise psycopg.Rollback  # the dropped policy comes back
    assert row is not None
    plan = row[0][0]
    return float(plan["Execution Time"]), float(plan["Planning Time"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(20261206)  # noqa: S311 - shuffling, not secrets
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:
            ds = dataset.load(
                conn,
                orgs=args.orgs,
                invoices=args.invoices,
                clients_per_org=20,
                large_share=0.05,
                item_invoices=args.orgs * 10,
                existing_items=0,
            )
            log(ds.describe())
            assert ds.large is not None
            assert ds.multi_user_id is not None
            multi_user = str(ds.multi_user_id)
            other_org = str(ds.multi_orgs[1])
            required_org = str(ds.multi_orgs[0])

            def cases(round_no: int) -> list[tuple[str, str, str, bool, str]]:
                typical = ds.typical[round_no % len(ds.typical)]
                assert ds.large is not None
                rows = []
                for group, user, org in (
                    ("typical", str(typical.owner_id), str(typical.organization_id)),
                    ("multi", multi_user, other_org),
                    ("large", str(ds.large.owner_id), str(ds.large.organization_id)),
                ):
                    for filtered in (True, False):
                        name = f"{group} {'filter + RLS' if filtered else 'RLS only'}"
                        rows.append((name, user, org, filtered, "aal1"))
                return rows

            names = [c[0] for c in cases(0)]
            extra = [
                "multi, another org requires MFA, aal1, filter + RLS",
                "multi, this org requires MFA, aal2, filter + RLS",
            ]
            series: dict[str, dict[str, list[float]]] = {
                n: {"with": [], "without": [], "plan_with": [], "plan_without": []}
                for n in names + extra
            }

            def one(name: str, user: str, org: str, filtered: bool, aal: str) -> None:
                order = [True, False]
                rng.shuffle(order)
                for drop in order:
                    execution, planning = _explain(
                        conn, user, org, filtered=filtered, drop=drop, aal=aal
                    )
                    key = "without" if drop else "with"
                    series[name][key].append(execution)
                    series[name]["plan_" + key].append(planning)

            log(f"mfa: warming up, then {args.rounds} rounds")
            for round_no in range(-20, args.rounds):
                todo = cases(round_no)
                rng.shuffle(todo)
                for case in todo:
                    one(*case)
                # Another of the multi-member's organizations requires MFA (aal1), then the
                # queried one does, with an aal2 token.
                conn.execute(
                    "update public.organization_settings set require_mfa = true"
                    " where organization_id = %s",
                    (required_org,),
                )
                one(extra[0], multi_user, other_org, True, "aal1")
                conn.execute(
                    "update public.organization_settings set require_mfa = (organization_id = %s)"
                    " where organization_id in (%s, %s)",
                    (other_org, other_org, required_org),
                )
                one(extra[1], multi_user, other_org, True, "aal2")
                conn.execute(
                    "update public.organization_settings set require_mfa = false"
                    " where organization_id in (%s, %s)",
                    (other_org, required_org),
                )
                if round_no == -1:
                    for values in series.values():
                        for v in values.values():
                            v.clear()

    rows = []
    passed = True
    for name, values in series.items():
        paired = [ratio(w, o) for w, o in zip(values["with"], values["without"], strict=True)]
        cost = Summary.of(paired)
        with_, without = Summary.of(values["with"]), Summary.of(values["without"])
        ok = cost.median <= BUDGET
        passed = passed and ok
        rows.append(
            [
                name,
                fmt_ms(without.median),
                fmt_ms(with_.median),
                fmt_ms(with_.p95),
                fmt_ratio(cost.median),
                fmt_ratio(cost.p95),
                fmt_ms(Summary.of(values["plan_without"]).median),
                fmt_ms(Summary.of(values["plan_with"]).median),
                verdict(ok),
            ]
        )
    print(
        f"\n{ds.describe()}\n{args.rounds} rounds, execution times (EXPLAIN ANALYZE) in ms\n\n"
        + table(
            [
                "variant",
                "without p50",
                "with p50",
                "with p95",
                "paired ratio p50",
                "paired p95",
                "plan without p50",
                "plan with p50",
                "≤ 1.10",
            ],
            rows,
        )
        + f"\n\nBudget (median paired ratio ≤ {BUDGET}): {verdict(passed)}"
    )


if __name__ == "__main__":
    main()
