"""``python -m bench.mfa_cost``: the MFA restrictive policy's cost on the RLS list
benchmark, the first version (20261206140200_require_mfa.sql) and the current one
(20261206170300_mfa_policy_cost.sql) side by side in one run.

One ephemeral PostgreSQL with every migration and bench/dataset.py's data set; the RLS
list query of bench/rls.py (sent invoices by due date, first page of 25) as
``authenticated`` with the JWT claims. Three policy sets on ``public.invoices``, each
built inside the measured transaction (rolled back), so every one runs on the same data
and plans:

* ``none``: no MFA enforcement at all (the read policy on ``my_organization_ids()``, no
  restrictive policy): the database before issue 17, the denominator of the budget;
* ``old``: the first version: the same read policy, and the restrictive ``mfa_required``
  on ``private.mfa_pending_organizations()`` as that migration wrote it (a PL/pgSQL
  helper of its own joining organization_settings, copied here as
  ``bench_mfa.old_pending_organizations()``);
* ``new``: the policies as deployed (read policy and restrictive SELECT policy on the
  same ``my_organization_ids_at_aal()`` expression, which PostgreSQL applies once).

Cases: a typical owner with an aal1 token whose organizations require no MFA (with the
API's organization filter and with RLS alone), the large organization's owner, a member
of 3 organizations at aal1 while another of theirs requires MFA, and the same member at
aal2 in the organization that requires it. Each case runs the three sets in a shuffled
order every round (EXPLAIN ANALYZE execution time; planning shown). Budget: the median
paired ratio new/none <= 1.10.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

from bench import dataset
from bench.common import (
    Conn,
    Summary,
    connect,
    fmt_ms,
    fmt_ratio,
    loadavg,
    log,
    ratio,
    table,
    verdict,
)
from devstack import postgres

QUERY = "select * from public.invoices where {filter}status = 'sent' order by due_date limit 25"
BUDGET = 1.10
READ_POLICY = "Members can view their organization's invoices"

# 20261206140200_require_mfa.sql's helper, as it was.
OLD_HELPER_SQL = """
create schema if not exists bench_mfa;
grant usage on schema bench_mfa to authenticated;
create or replace function bench_mfa.old_pending_organizations()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb
              ->> 'aal', '') = 'aal2' then
    return '{}';
  end if;
  return coalesce(
    (select array_agg(s.organization_id)
     from public.organization_settings s
     where s.require_mfa
       and exists (select from public.memberships m
                   where m.organization_id = s.organization_id and m.user_id = auth.uid())),
    '{}');
end;
$$;
grant execute on function bench_mfa.old_pending_organizations() to authenticated;
"""

_DROP_NEW = [
    "drop policy mfa_required on public.invoices",
    "drop policy mfa_required_insert on public.invoices",
    "drop policy mfa_required_update on public.invoices",
    "drop policy mfa_required_delete on public.invoices",
    f"""alter policy "{READ_POLICY}" on public.invoices
          using (organization_id = any ((select private.my_organization_ids())::uuid[]))""",
]
SETS: dict[str, list[str]] = {
    "none": _DROP_NEW,
    "old": [
        *_DROP_NEW,
        """create policy mfa_required on public.invoices as restrictive for all to authenticated
           using (organization_id <> all ((select bench_mfa.old_pending_organizations())::uuid[]))
           with check (
             organization_id <> all ((select bench_mfa.old_pending_organizations())::uuid[]))""",
    ],
    "new": [],
}


def _explain(
    conn: Conn, policy_set: str, user: str, org: str, *, filtered: bool, aal: str
) -> tuple[float, float]:
    sql = QUERY.format(filter="organization_id = %s and " if filtered else "")
    params: tuple[Any, ...] = (org,) if filtered else ()
    claims = json.dumps({"sub": user, "role": "authenticated", "aal": aal})
    row: tuple[Any, ...] | None = None
    with conn.transaction(force_rollback=True):  # the policies as deployed come back
        for statement in SETS[policy_set]:
            conn.execute(statement)
        conn.execute(
            "select set_config('role', 'authenticated', true),"
            " set_config('request.jwt.claims', %s, true)",
            (claims,),
        )
        row = conn.execute("explain (analyze, format json) " + sql, params).fetchone()
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
    series: dict[str, dict[str, list[float]]] = {}
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
            conn.execute(OLD_HELPER_SQL)
            assert ds.large is not None
            assert ds.multi_user_id is not None
            multi_user = str(ds.multi_user_id)
            queried, other = str(ds.multi_orgs[1]), str(ds.multi_orgs[0])
            large = (str(ds.large.owner_id), str(ds.large.organization_id))

            def require(orgs: list[str]) -> None:
                conn.execute(
                    "update public.organization_settings"
                    " set require_mfa = (organization_id = any(%s::uuid[]))"
                    " where organization_id = any(%s::uuid[])",
                    (orgs, [queried, other]),
                )

            # (name, user, org, filtered, aal, organizations requiring MFA)
            def cases(round_no: int) -> list[tuple[str, str, str, bool, str, list[str]]]:
                typical = ds.typical[round_no % len(ds.typical)]
                owner, org = str(typical.owner_id), str(typical.organization_id)
                return [
                    ("aal1, no MFA org: typical owner, filter + RLS", owner, org, True, "aal1", []),
                    ("aal1, no MFA org: typical owner, RLS only", owner, org, False, "aal1", []),
                    ("aal1, no MFA org: large org owner, filter + RLS", *large, True, "aal1", []),
                    (
                        "aal1, one MFA org (another): 3-org member, filter + RLS",
                        multi_user,
                        queried,
                        True,
                        "aal1",
                        [other],
                    ),
                    (
                        "aal2, this org requires MFA: 3-org member, filter + RLS",
                        multi_user,
                        queried,
                        True,
                        "aal2",
                        [queried],
                    ),
                ]

            log(f"mfa_cost: 10 warm-up rounds, then {args.rounds} (load {loadavg()})")
            for round_no in range(-10, args.rounds):
                todo = cases(round_no)
                rng.shuffle(todo)
                for name, user, org, filtered, aal, requiring in todo:
                    require(requiring)
                    order = list(SETS)
                    rng.shuffle(order)
                    for policy_set in order:
                        execution, planning = _explain(
                            conn, policy_set, user, org, filtered=filtered, aal=aal
                        )
                        if round_no >= 0:
                            values = series.setdefault(name, {})
                            values.setdefault(policy_set, []).append(execution)
                            values.setdefault("plan_" + policy_set, []).append(planning)
                require([])
            log(f"mfa_cost: done (load {loadavg()})")

    rows = []
    passed = True
    for name, values in series.items():
        new_cost = Summary.of(
            [ratio(n, o) for n, o in zip(values["new"], values["none"], strict=True)]
        )
        old_cost = Summary.of(
            [ratio(n, o) for n, o in zip(values["old"], values["none"], strict=True)]
        )
        new_vs_old = Summary.of(
            [ratio(n, o) for n, o in zip(values["new"], values["old"], strict=True)]
        )
        ok = new_cost.median <= BUDGET
        passed = passed and ok
        rows.append(
            [
                name,
                fmt_ms(Summary.of(values["none"]).median),
                fmt_ms(Summary.of(values["old"]).median),
                fmt_ms(Summary.of(values["new"]).median),
                fmt_ratio(old_cost.median),
                fmt_ratio(new_cost.median),
                fmt_ratio(new_cost.p95),
                fmt_ratio(new_vs_old.median),
                fmt_ms(Summary.of(values["plan_old"]).median)
                + " / "
                + fmt_ms(Summary.of(values["plan_new"]).median),
                verdict(ok),
            ]
        )
    print(
        f"\n{ds.describe()}\n{args.rounds} rounds, execution times (EXPLAIN ANALYZE) in ms,"
        " ratios paired within a round\n\n"
        + table(
            [
                "case",
                "none p50",
                "old p50",
                "new p50",
                "old/none p50",
                "new/none p50",
                "new/none p95",
                "new/old p50",
                "planning old / new",
                "≤ 1.10",
            ],
            rows,
        )
        + f"\n\nBudget (median paired ratio new/none ≤ {BUDGET}): {verdict(passed)}"
    )


if __name__ == "__main__":
    main()
