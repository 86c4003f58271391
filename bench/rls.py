"""Budget 2: the RLS-filtered list of one organization's sent invoices.

The query is the API's "sent invoices by due date, first page":

    select * from public.invoices
    where [organization_id = $1 and] status = 'sent'
    order by due_date limit 25

run as ``authenticated`` exactly as PostgREST runs it (inside a transaction,
``set_config('role', 'authenticated', true)`` and ``set_config('request.jwt.claims', …,
true)``), with the explicit organization filter the API sends and without it (row-level
security alone), against the same query as superuser with the explicit filter (the
baseline: no RLS at all). Budget: within 1.5x of the baseline and under 5 ms, on EXPLAIN
(ANALYZE, BUFFERS) execution time, median of many repetitions.

Three kinds of user: owners of typical organizations (the series rotates over 50 of them),
a user of 3 organizations, and the owner of the large organization.

Candidate: the same queries under the same policy with another membership function, for
a role created only in the benchmark database (their policies apply to them alone, so the
real policies, roles and plans are untouched):

* ``jwt`` — the organization ids read from the JWT's ``app_metadata`` (no table read at
  all): the floor of any policy, shown for comparison only (memberships would then change
  only when the token is refreshed).

Every round runs every variant once, in a shuffled order, on the same organization; a
second shuffled pass runs the bare query (no EXPLAIN) for the client-side time.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from bench.common import Conn, Summary, fmt_ms, fmt_ratio, log, ratio, table, verdict
from bench.dataset import Dataset

BUDGET_RATIO = 1.5
BUDGET_MS = 5.0

CANDIDATES_SQL = """
create schema if not exists bench_fix;

-- The organization ids from the token's app_metadata: no table read.
create or replace function bench_fix.jwt_organization_ids()
returns uuid[]
language sql
stable
as $$
  select coalesce(
    translate((auth.jwt() -> 'app_metadata' -> 'organization_ids')::text, '[]"', '{}')::uuid[],
    '{}')
$$;

do $$
begin
  if not exists (select from pg_roles where rolname = 'bench_rls_jwt') then
    create role bench_rls_jwt nologin noinherit;
  end if;
end
$$;

grant usage on schema bench_fix, auth to bench_rls_jwt;
grant execute on all functions in schema bench_fix to bench_rls_jwt;
grant execute on function auth.uid(), auth.jwt() to bench_rls_jwt;
grant select on public.invoices to bench_rls_jwt;

create policy "bench: organization ids from the JWT" on public.invoices
  for select to bench_rls_jwt
  using (organization_id = any ((select bench_fix.jwt_organization_ids())::uuid[]));
"""

QUERY = "select * from public.invoices where {filter}status = 'sent' order by due_date limit 25"


@dataclass(frozen=True)
class Variant:
    name: str
    group: str  # typical | multi | large
    role: str | None  # None: the superuser
    filter: str  # org | orgs | none
    baseline: str | None
    description: str
    candidate: bool = False


VARIANTS: tuple[Variant, ...] = (
    Variant("super_org", "typical", None, "org", None, "superuser, organization_id = X"),
    Variant("auth_org", "typical", "authenticated", "org", "super_org", "member, filter + RLS"),
    Variant("auth_rls", "typical", "authenticated", "none", "super_org", "member, RLS only"),
    Variant(
        "multi_super_org", "multi", None, "org", None, "superuser, organization_id = X (1 of 3)"
    ),
    Variant(
        "multi_super_any",
        "multi",
        None,
        "orgs",
        None,
        "superuser, organization_id = any(3 orgs)",
    ),
    Variant(
        "multi_auth_org",
        "multi",
        "authenticated",
        "org",
        "multi_super_org",
        "3-org member, filter + RLS",
    ),
    Variant(
        "multi_auth_rls",
        "multi",
        "authenticated",
        "none",
        "multi_super_org",
        "3-org member, RLS only",
    ),
    Variant("large_super_org", "large", None, "org", None, "superuser, large organization"),
    Variant(
        "large_auth_org",
        "large",
        "authenticated",
        "org",
        "large_super_org",
        "large org owner, filter + RLS",
    ),
    Variant(
        "large_auth_rls",
        "large",
        "authenticated",
        "none",
        "large_super_org",
        "large org owner, RLS only",
    ),
    Variant(
        "jwt_org",
        "typical",
        "bench_rls_jwt",
        "org",
        "super_org",
        "candidate: ids from JWT, filter + RLS",
        candidate=True,
    ),
    Variant(
        "jwt_rls",
        "typical",
        "bench_rls_jwt",
        "none",
        "super_org",
        "candidate: ids from JWT, RLS only",
        candidate=True,
    ),
)

# What the budget is judged on: (variant, what it stands for).
BUDGET_CHECKS: tuple[tuple[str, str], ...] = (
    ("auth_org", "typical org, explicit filter (what the API sends)"),
    ("auth_rls", "typical org, RLS only"),
    ("multi_auth_org", "user of 3 orgs, explicit filter"),
    ("multi_auth_rls", "user of 3 orgs, RLS only"),
    ("large_auth_org", "large org, explicit filter"),
    ("large_auth_rls", "large org, RLS only"),
)


@dataclass(frozen=True)
class Context:
    """Who asks, and for which organization, in one round."""

    user_id: UUID
    org_id: UUID
    all_orgs: list[UUID]


@dataclass
class Series:
    execution: list[float] = field(default_factory=list)
    planning: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)


@dataclass
class RlsResult:
    rounds: int
    series: dict[str, Series]
    paired: dict[str, list[float]]
    plans: dict[str, str]
    variants: tuple[Variant, ...]
    dataset: str

    def summary(self, name: str, what: str = "execution") -> Summary:
        values: list[float] = getattr(self.series[name], what)
        return Summary.of(values)

    def ratio_of(self, name: str) -> float:
        variant = self._variant(name)
        assert variant.baseline is not None
        return ratio(self.summary(name).median, self.summary(variant.baseline).median)

    def passed(self, name: str) -> bool:
        s = self.summary(name)
        return self.ratio_of(name) <= BUDGET_RATIO and s.median < BUDGET_MS

    def _variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def render(self) -> str:
        rows = []
        for v in self.variants:
            ex = self.summary(v.name)
            pl = self.summary(v.name, "planning")
            cl = self.summary(v.name, "client")
            if v.baseline:
                r = fmt_ratio(self.ratio_of(v.name))
                pr = fmt_ratio(statistics.median(self.paired[v.name]))
                status = verdict(self.passed(v.name))
            elif any(o.baseline == v.name for o in self.variants):
                r, pr, status = "baseline", "", ""
            else:
                r, pr, status = "reference", "", ""
            rows.append(
                [
                    v.name,
                    v.description,
                    ex.n,
                    fmt_ms(ex.median),
                    fmt_ms(ex.p95),
                    fmt_ms(ex.maximum),
                    r,
                    pr,
                    fmt_ms(pl.median),
                    fmt_ms(cl.median),
                    status,
                ]
            )
        return table(
            [
                "variant",
                "who / filter",
                "n",
                "exec median ms",
                "exec p95 ms",
                "exec max ms",
                "ratio (medians)",
                "ratio (paired median)",
                "planning median ms",
                "client median ms",
                f"≤{BUDGET_RATIO}x and <{BUDGET_MS:.0f} ms",
            ],
            rows,
        )

    def render_budget(self) -> str:
        rows = []
        for name, label in BUDGET_CHECKS:
            s = self.summary(name)
            variant = self._variant(name)
            assert variant.baseline is not None
            rows.append(
                [
                    label,
                    fmt_ms(s.median),
                    fmt_ms(s.p95),
                    fmt_ms(self.summary(variant.baseline).median),
                    fmt_ratio(self.ratio_of(name)),
                    verdict(s.median < BUDGET_MS),
                    verdict(self.ratio_of(name) <= BUDGET_RATIO),
                ]
            )
        return table(
            [
                "case",
                "median ms",
                "p95 ms",
                "baseline median ms",
                "ratio",
                f"< {BUDGET_MS:.0f} ms",
                f"≤ {BUDGET_RATIO}x",
            ],
            rows,
        )


def setup_candidates(conn: Conn) -> None:
    conn.execute(CANDIDATES_SQL)
    conn.execute("analyze public.memberships")


def _statement(variant: Variant, ctx: Context) -> tuple[str, tuple[Any, ...]]:
    if variant.filter == "org":
        return QUERY.format(filter="organization_id = %s and "), (ctx.org_id,)
    if variant.filter == "orgs":
        return QUERY.format(filter="organization_id = any(%s) and "), (ctx.all_orgs,)
    return QUERY.format(filter=""), ()


def _claims(variant: Variant, ctx: Context) -> str:
    claims: dict[str, Any] = {"sub": str(ctx.user_id), "role": "authenticated"}
    if variant.role == "bench_rls_jwt":
        claims["app_metadata"] = {"organization_ids": [str(o) for o in ctx.all_orgs]}
    return json.dumps(claims)


def _begin_as(conn: Conn, variant: Variant, ctx: Context) -> None:
    if variant.role is not None:
        conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (variant.role, _claims(variant, ctx)),
        )


def explain(conn: Conn, variant: Variant, ctx: Context) -> tuple[float, float]:
    """(execution ms, planning ms) of one EXPLAIN (ANALYZE, BUFFERS) in its own transaction."""
    sql, params = _statement(variant, ctx)
    with conn.transaction():
        _begin_as(conn, variant, ctx)
        row = conn.execute("explain (analyze, buffers, format json) " + sql, params).fetchone()
    assert row is not None
    plan = row[0][0]
    return float(plan["Execution Time"]), float(plan["Planning Time"])


def explain_text(conn: Conn, variant: Variant, ctx: Context) -> str:
    sql, params = _statement(variant, ctx)
    with conn.transaction():
        _begin_as(conn, variant, ctx)
        rows = conn.execute("explain (analyze, buffers) " + sql, params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def client_time(conn: Conn, variant: Variant, ctx: Context) -> float:
    """Milliseconds of the bare query as the client sees it (send, plan, run, fetch)."""
    sql, params = _statement(variant, ctx)
    with conn.transaction():
        _begin_as(conn, variant, ctx)
        started = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        elapsed = (time.perf_counter() - started) * 1000
    assert 0 < len(rows) <= 25, (variant.name, len(rows))
    return elapsed


def contexts(ds: Dataset, round_no: int) -> dict[str, Context]:
    typical = ds.typical[round_no % len(ds.typical)]
    assert ds.large is not None
    assert ds.multi_user_id is not None
    return {
        "typical": Context(typical.owner_id, typical.organization_id, [typical.organization_id]),
        "multi": Context(
            ds.multi_user_id, ds.multi_orgs[round_no % len(ds.multi_orgs)], list(ds.multi_orgs)
        ),
        "large": Context(ds.large.owner_id, ds.large.organization_id, [ds.large.organization_id]),
    }


def run(
    conn: Conn,
    ds: Dataset,
    *,
    rounds: int,
    candidates: bool,
    seed: int = 20261121,
    variants: Sequence[Variant] = VARIANTS,
) -> RlsResult:
    chosen = tuple(v for v in variants if candidates or not v.candidate)
    if candidates:
        setup_candidates(conn)
    rng = random.Random(seed)  # noqa: S311 - shuffling, not secrets
    series = {v.name: Series() for v in chosen}

    log(f"rls: warming up ({len(ds.typical)} organizations x {len(chosen)} variants)")
    for warm in range(len(ds.typical)):
        ctxs = contexts(ds, warm)
        for v in chosen:
            explain(conn, v, ctxs[v.group])
            client_time(conn, v, ctxs[v.group])

    log(f"rls: {rounds} rounds x {len(chosen)} variants, shuffled in each round")
    started = time.perf_counter()
    for round_no in range(rounds):
        ctxs = contexts(ds, round_no)
        order = list(chosen)
        rng.shuffle(order)
        for v in order:
            execution, planning = explain(conn, v, ctxs[v.group])
            series[v.name].execution.append(execution)
            series[v.name].planning.append(planning)
        rng.shuffle(order)
        for v in order:
            series[v.name].client.append(client_time(conn, v, ctxs[v.group]))
        if (round_no + 1) % max(1, rounds // 5) == 0:
            log(f"rls: {round_no + 1}/{rounds} rounds ({time.perf_counter() - started:.0f} s)")

    paired: dict[str, list[float]] = {}
    for v in chosen:
        if v.baseline:
            base = series[v.baseline].execution
            paired[v.name] = [
                ratio(x, b) for x, b in zip(series[v.name].execution, base, strict=True)
            ]

    plans = {}
    ctxs = contexts(ds, 0)
    for v in chosen:
        plans[v.name] = explain_text(conn, v, ctxs[v.group])
    return RlsResult(
        rounds=rounds,
        series=series,
        paired=paired,
        plans=plans,
        variants=chosen,
        dataset=ds.describe(),
    )
