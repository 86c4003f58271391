"""Budget 3: inserting invoice items through the triggers costs at most 2x without them.

100,000 items (10 on each of 10,000 empty draft invoices, in every organization) are
inserted

* ``single`` — in one ``INSERT … SELECT`` statement;
* ``batched`` — one 10-item ``INSERT`` per invoice, 10,000 statements, as the API would
  send them (run server-side in a PL/pgSQL loop, so that the figures are the database's
  and not the network's; every statement fires the statement-level triggers),

as superuser, each run in its own transaction that is rolled back afterwards (then the
touched tables are vacuumed), so that every run starts from the same data. Variants:

* ``none`` — ``alter table invoice_items disable trigger user``: the baseline (the
  foreign-key check and the generated ``amount`` column remain: they are not triggers
  one can do without);
* ``none_replica`` — ``session_replication_role = replica``: no foreign-key check either;
* ``all`` — the migrations as they are: totals (statement-level, once per invoice, with
  the freeze check of settled invoices in the same lock query), the audit log, and what
  they set off on invoices
  (tax, total and status rules, their audit entries, client totals);
* ``totals_only`` — the audit triggers of ``invoice_items``, ``invoices`` and ``clients``
  disabled;
* ``seed`` — the seed's design: its ``update_invoice_totals()`` (recreated in the scratch
  schema ``bench_seed``) as a row-level trigger recomputing subtotal, tax and total with
  three sums per item row, instead of the statement-level totals and freeze triggers;
  audit off as in ``totals_only`` (the seed had none). Slow: run ``--seed-reps`` times;
* ``no_insert_audit`` — all triggers but no audit entry for item INSERTs (a product
  decision, measured for information).

Earlier runs also measured candidate schema changes here (the money helpers made
inlinable, client totals refreshed only when they can change); they are now in the
migrations, so ``none`` and ``all`` include them (bench/RESULTS.md has the before/after).

The DDL of a variant (``alter table … disable trigger``, ``create or replace function``)
runs inside the run's transaction, so it is rolled back with the items.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import Conn, Summary, connect, fmt_ratio, fmt_s, log, ratio, table, verdict

BUDGET_RATIO = 2.0

SEED_SQL = """
create schema if not exists bench_seed;

-- The seed's update_invoice_totals(), word for word but for schema-qualified names.
create or replace function bench_seed.update_invoice_totals()
returns trigger as $$
declare
  inv record;
begin
  -- Get the invoice
  select * into inv from public.invoices where id = coalesce(new.invoice_id, old.invoice_id);

  -- Update subtotal, tax_amount, total_amount
  update public.invoices
  set
    subtotal = coalesce((
      select sum(amount) from public.invoice_items where invoice_id = inv.id
    ), 0),
    tax_amount = coalesce((
      select sum(amount) from public.invoice_items where invoice_id = inv.id
    ), 0) * (inv.tax_rate / 100),
    total_amount = coalesce((
      select sum(amount) from public.invoice_items where invoice_id = inv.id
    ), 0) * (1 + inv.tax_rate / 100) - inv.discount
  where id = inv.id;

  return coalesce(new, old);
end;
$$ language plpgsql;
"""

NO_USER_TRIGGERS = ("alter table public.invoice_items disable trigger user",)
NO_AUDIT = (
    "alter table public.invoice_items disable trigger audit_inserts",
    "alter table public.invoices disable trigger audit_updates",
    "alter table public.clients disable trigger audit_updates",
)
SEED_DESIGN = (
    "alter table public.invoice_items disable trigger refresh_invoice_totals_after_insert",
    *NO_AUDIT,
    "create trigger update_invoice_totals_on_item_change"
    " after insert or update or delete on public.invoice_items"
    " for each row execute function bench_seed.update_invoice_totals()",
)
# A product decision, measured for information: no audit entry for an INSERT (the
# inserted row is the live row until its first UPDATE or DELETE, whose entry keeps it as
# old_record; who created it would need a created_by column on invoice_items).
NO_INSERT_AUDIT_SQL = "alter table public.invoice_items disable trigger audit_inserts"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    setup: tuple[str, ...]
    baseline: str | None
    totals: bool  # whether the invoices' subtotals follow their items
    slow: bool = False
    modes: tuple[str, ...] = ("single", "batched")


VARIANTS: tuple[Variant, ...] = (
    Variant("none", "triggers disabled (baseline)", NO_USER_TRIGGERS, None, totals=False),
    Variant(
        "none_replica",
        "session_replication_role = replica (no FK check either)",
        ("set local session_replication_role = replica",),
        "none",
        totals=False,
        modes=("single",),
    ),
    Variant("all", "all triggers (totals + audit + freeze)", (), "none", totals=True),
    Variant("totals_only", "totals + freeze, audit disabled", NO_AUDIT, "none", totals=True),
    Variant(
        "seed",
        "seed design: row trigger, 3 sums per item (audit off)",
        SEED_DESIGN,
        "none",
        totals=True,
        slow=True,
    ),
    Variant(
        "no_insert_audit",
        "all triggers but no audit entry for item inserts",
        (NO_INSERT_AUDIT_SQL,),
        "none",
        totals=True,
    ),
)

MODES = ("single", "batched")

COLUMNS = "organization_id, invoice_id, currency, position, description, quantity, rate"
VALUES = (
    "{t}.organization_id, {t}.invoice_id, {t}.currency, g,"
    " format('Line %s: consulting services', g), (1 + g % 3)::numeric, (10.5 + g)::numeric"
)


def statement(mode: str, invoices: int, per_invoice: int) -> str:
    if mode == "single":
        return (
            f"insert into public.invoice_items ({COLUMNS})"
            f" select {VALUES.format(t='t')}"
            f" from bench.item_targets t cross join generate_series(1, {per_invoice}) g"
            f" where t.n <= {invoices} order by t.n, g"
        )
    return (
        "do $$ declare t record; begin"
        f" for t in select * from bench.item_targets where n <= {invoices} order by n loop"
        f" insert into public.invoice_items ({COLUMNS})"
        f" select {VALUES.format(t='t')} from generate_series(1, {per_invoice}) g;"
        " end loop; end $$"
    )


@dataclass
class ItemsResult:
    invoices: int
    per_invoice: int
    variants: tuple[Variant, ...]
    times: dict[tuple[str, str], list[float]]
    diagnostics: dict[str, Diagnosis] = field(default_factory=dict)

    def summary(self, mode: str, name: str) -> Summary:
        return Summary.of(self.times[(mode, name)])

    def ratio_to(self, mode: str, name: str, baseline: str) -> float:
        return ratio(self.summary(mode, name).median, self.summary(mode, baseline).median)

    def passed(self, mode: str) -> bool:
        return self.ratio_to(mode, "all", "none") <= BUDGET_RATIO

    def render(self) -> str:
        rows = []
        for mode in MODES:
            for v in self.variants:
                if (mode, v.name) not in self.times:
                    continue
                s = self.summary(mode, v.name)
                to_none = fmt_ratio(self.ratio_to(mode, v.name, "none"))
                own = (
                    fmt_ratio(self.ratio_to(mode, v.name, v.baseline))
                    if v.baseline and v.baseline != "none"
                    else ""
                )
                per_item_us = s.median / (self.invoices * self.per_invoice) * 1e6
                status = verdict(self.passed(mode)) if v.name == "all" else ""
                rows.append(
                    [
                        mode,
                        v.name,
                        v.description,
                        s.n,
                        fmt_s(s.median),
                        fmt_s(s.minimum),
                        fmt_s(s.maximum),
                        f"{per_item_us:.0f}",
                        to_none,
                        own,
                        status,
                    ]
                )
        return table(
            [
                "mode",
                "variant",
                "what",
                "runs",
                "median s",
                "min s",
                "max s",
                "µs/item",
                "ratio to none",
                "ratio to own baseline",
                f"≤ {BUDGET_RATIO:.0f}x",
            ],
            rows,
        )

    def render_diagnostics(self) -> str:
        parts = []
        for name, diag in self.diagnostics.items():
            parts.append(
                f"EXPLAIN ANALYZE of the single statement, variant `{name}`:"
                f" execution {diag.execution_ms:.0f} ms, of which the insert itself"
                f" {diag.insert_ms:.0f} ms\n"
            )
            parts.append(
                table(
                    ["trigger", "calls", "ms"],
                    [[t, c, f"{ms:.0f}"] for t, c, ms in diag.triggers],
                )
            )
            if diag.nested:
                parts.append(f"\nNested statements of `{name}` over 20 ms (auto_explain):\n")
                parts.append(
                    table(
                        ["ms", "statement (first line)"],
                        [[f"{ms:.0f}", text] for ms, text in diag.nested],
                    )
                )
            parts.append("")
        return "\n".join(parts)


@dataclass
class Diagnosis:
    execution_ms: float
    insert_ms: float
    triggers: list[tuple[str, int, float]]
    nested: list[tuple[float, str]]
    nested_plans: str


def prepare(conn: Conn) -> None:
    conn.execute(SEED_SQL)


def vacuum(conn: Conn) -> None:
    conn.execute(
        "vacuum public.invoice_items, public.invoices, public.clients, public.audit_log,"
        " public.client_activities"
    )


def one_run(conn: Conn, variant: Variant, mode: str, invoices: int, per_invoice: int) -> float:
    """Seconds of the insert (the variant's DDL excluded); everything is rolled back."""
    sql = statement(mode, invoices, per_invoice)
    elapsed = 0.0
    try:
        with conn.transaction(force_rollback=True):
            for setup in variant.setup:
                conn.execute(setup)
            started = time.perf_counter()
            conn.execute(sql)
            elapsed = time.perf_counter() - started
            check(conn, variant, invoices, per_invoice)
    finally:
        vacuum(conn)
    return elapsed


def check(conn: Conn, variant: Variant, invoices: int, per_invoice: int) -> None:
    """The items are there, and the subtotals follow them exactly when they should."""
    row = conn.execute(
        "select (select count(*) from bench.item_targets t"
        "        join public.invoice_items it on it.invoice_id = t.invoice_id where t.n <= %s),"
        " (select count(*) from bench.item_targets t join public.invoices i on i.id = t.invoice_id"
        "  where t.n <= %s and i.subtotal > 0)",
        (invoices, invoices),
    ).fetchone()
    assert row is not None
    items, with_subtotal = int(row[0]), int(row[1])
    assert items == invoices * per_invoice, (variant.name, items)
    expected = invoices if variant.totals else 0
    assert with_subtotal == expected, (variant.name, with_subtotal, expected)


def diagnose(url: str, variant: Variant, invoices: int, per_invoice: int) -> Diagnosis:
    """Where the time goes: trigger times, and nested statements over 20 ms.

    One more run of the single statement under EXPLAIN ANALYZE (which times each trigger)
    with auto_explain logging every nested statement over 20 ms: instrumented, so slower
    than the timed runs; for the shares, not the totals."""
    notices: list[str] = []
    with connect(url) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("load 'auto_explain'")
        for setting, value in (
            ("log_min_duration", "20"),
            ("log_analyze", "on"),
            # Per-node timing of the nested plans would multiply their cost (clock reads on
            # every row of every node); their durations are measured all the same.
            ("log_timing", "off"),
            ("log_triggers", "on"),
            ("log_nested_statements", "on"),
            ("log_level", "notice"),
        ):
            conn.execute(f"set auto_explain.{setting} = {value}")
        sql = statement("single", invoices, per_invoice)
        plan: dict[str, Any] = {}
        try:
            with conn.transaction(force_rollback=True):
                for setup in variant.setup:
                    conn.execute(setup)
                row = conn.execute("explain (analyze, format json) " + sql).fetchone()
                assert row is not None
                plan = row[0][0]
        finally:
            conn.execute("set auto_explain.log_min_duration = -1")
            vacuum(conn)
    triggers = [
        (_trigger_label(t), int(t["Calls"]), float(t["Time"])) for t in plan.get("Triggers", [])
    ]
    nested: list[tuple[float, str]] = []
    for notice in notices:
        if not notice.startswith("duration:"):
            continue
        ms = float(notice.split()[1])
        text = notice.split("Query Text:", 1)[-1].strip().splitlines()[0][:110]
        if text.startswith("explain"):
            continue  # the EXPLAIN itself
        nested.append((ms, text))
    nested.sort(reverse=True)
    return Diagnosis(
        execution_ms=float(plan["Execution Time"]),
        insert_ms=float(plan["Plan"]["Actual Total Time"]),
        triggers=triggers,
        nested=nested,
        nested_plans="\n\n".join(notices),
    )


def _trigger_label(trigger: dict[str, Any]) -> str:
    name = str(trigger["Trigger Name"])
    if name.startswith("RI_ConstraintTrigger") and "Constraint Name" in trigger:
        return f"foreign key {trigger['Constraint Name']} (row-level)"
    return name


def run(
    conn: Conn,
    url: str,
    *,
    invoices: int,
    per_invoice: int,
    reps: int,
    seed_reps: int,
    diagnostics: bool,
    modes: Sequence[str] = MODES,
    seed: int = 20261121,
    variants: Sequence[Variant] = VARIANTS,
) -> ItemsResult:
    prepare(conn)
    rng = random.Random(seed)  # noqa: S311 - shuffling, not secrets
    chosen = tuple(variants)
    times: dict[tuple[str, str], list[float]] = {
        (m, v.name): [] for m in modes for v in chosen if m in v.modes
    }

    warm = max(1, invoices // 100)
    log(f"items: warm-up ({warm} invoices x {per_invoice} items per variant and mode)")
    for mode in modes:
        for v in chosen:
            if mode in v.modes:
                one_run(conn, v, mode, warm, per_invoice)

    total_items = invoices * per_invoice
    for rep in range(reps):
        runs = [
            (mode, v)
            for mode in modes
            for v in chosen
            if mode in v.modes and (not v.slow or rep < seed_reps)
        ]
        rng.shuffle(runs)
        for mode, v in runs:
            seconds = one_run(conn, v, mode, invoices, per_invoice)
            times[(mode, v.name)].append(seconds)
            log(
                f"items round {rep + 1}/{reps}: {mode:7} {v.name:12} {seconds:7.2f} s"
                f" ({seconds / total_items * 1e6:.0f} µs/item)"
            )
    times = {k: t for k, t in times.items() if t}
    result = ItemsResult(invoices, per_invoice, chosen, times)
    if diagnostics:
        for name in ("all",):
            variant = next((v for v in chosen if v.name == name), None)
            if variant is not None:
                log(f"items: diagnosing {name} (EXPLAIN ANALYZE + auto_explain)")
                result.diagnostics[name] = diagnose(url, variant, invoices, per_invoice)
    medians = {k: statistics.median(v) for k, v in times.items()}
    log("items: medians " + ", ".join(f"{m}/{n} {s:.2f} s" for (m, n), s in medians.items()))
    return result
