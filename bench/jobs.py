"""``python -m bench.jobs``: mark overdue over a large data set, against the bare UPDATE.

The issue's budget: mark overdue over 1,000,000 invoices of which half are due, within
1.5x of the bare set-based ``UPDATE public.invoices SET status = 'overdue' WHERE status =
'sent' AND due_date < ...`` measured in the same run on the same data.

* The data set of the other benchmarks (`bench.dataset`, set-based load with the
  triggers off): 1,000 organizations, 1,000,000 invoices (5 % in one large
  organization), 20 clients each; then, still with the triggers off, every invoice but
  the empty drafts becomes ``sent`` and unpaid, half of them (alternately) due 1 to 60
  days ago and the other half due 1 to 60 days ahead; client totals recomputed.
* Both contenders run the invoice triggers as any update does (status rules, client
  totals, the audit log's statement trigger): the job is ``public.job_mark_overdue``
  called as the job calls it, 2,000 invoices a call until a call marks fewer (the
  UPDATE plus one ``invoice_overdue`` activity per invoice and the owners' notices, per
  call; issue 13), and the baseline is the bare UPDATE.
* Each run is timed inside a transaction that is then rolled back (what it wrote, the
  audit rows and activities included, vanishes), followed by VACUUM (ANALYZE) of the
  tables it touched and a CHECKPOINT, so every run starts from the same table. Commit is
  not timed, for either (the cluster runs with fsync off anyway).
* Runs alternate baseline/job/job/baseline/... (ABBA). The machine is shared (2 CPUs,
  other engineers' builds and benchmarks): the verdict takes the ratio within each
  adjacent pair (job / bare, run back to back) and the median of those ratios, which
  drift between pairs does not move; the ratio of the two medians is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import dataset
from bench.common import (
    OUT_DIR,
    Conn,
    Machine,
    Summary,
    connect,
    fmt_ratio,
    fmt_s,
    loadavg,
    log,
    ratio,
    table,
    verdict,
)
from devstack import postgres

BUDGET = 1.5

PREPARE_SQL = """
update public.invoices i
set status = 'sent', amount_paid = 0, paid_at = null, cancelled_at = null,
    sent_at = coalesce(i.sent_at, i.issue_date::timestamptz),
    due_date = case when x.n % 2 = 0 then current_date - 1 - (x.n / 2) % 60
                    else current_date + 1 + (x.n / 2) % 60 end
from (select id, (row_number() over (order by id))::integer as n from public.invoices
      where not (status = 'draft' and subtotal = 0)) x
where i.id = x.id;
update public.clients c
set total_billed = private.round_money(t.total_billed, c.currency),
    last_invoice_date = t.last_invoice_date,
    outstanding_balance = private.round_money(t.outstanding_balance, c.currency)
from (
  select client_id,
         coalesce(sum(total_amount) filter (where status in ('sent', 'paid', 'overdue')), 0)
           as total_billed,
         max(issue_date) filter (where status in ('sent', 'paid', 'overdue')) as last_invoice_date,
         coalesce(sum(balance_due) filter (where status in ('sent', 'overdue')), 0)
           as outstanding_balance
  from public.invoices
  group by client_id
) t
where c.id = t.client_id
"""

BARE_SQL = (
    "update public.invoices set status = 'overdue' where status = 'sent' and due_date < %(today)s"
)
JOB_SQL = "select public.job_mark_overdue(%(today)s, %(batch)s)"
# The job's own chunk (functions/jobs/mark_overdue.py): the set is its calls, looped.
JOB_BATCH = 2000


@dataclass
class Result:
    bare: list[float] = field(default_factory=list)
    job: list[float] = field(default_factory=list)
    marked: list[int] = field(default_factory=list)
    due: int = 0
    invoices: int = 0
    load: str = ""

    pairs: list[float] = field(default_factory=list)  # job / bare, adjacent runs

    @property
    def ratio(self) -> float:
        return ratio(Summary.of(self.job).median, Summary.of(self.bare).median)

    @property
    def pair_ratio(self) -> float:
        return Summary.of(self.pairs).median

    @property
    def passed(self) -> bool:
        return self.pair_ratio <= BUDGET and all(m == self.due for m in self.marked)

    def render(self) -> str:
        bare, job = Summary.of(self.bare), Summary.of(self.job)
        rows = [
            (
                "bare UPDATE",
                bare.n,
                fmt_s(bare.median),
                fmt_s(bare.minimum),
                fmt_s(bare.maximum),
                "1.00x",
            ),
            (
                "job_mark_overdue()",
                job.n,
                fmt_s(job.median),
                fmt_s(job.minimum),
                fmt_s(job.maximum),
                fmt_ratio(self.ratio),
            ),
        ]
        head = (
            f"{self.invoices:,} invoices, {self.due:,} sent and past due (marked by every run:"
            f" {sorted(set(self.marked))}); budget: job ≤ {BUDGET}x the bare UPDATE."
            f" Ratio within each adjacent pair: {', '.join(fmt_ratio(r) for r in self.pairs)};"
            f" median {fmt_ratio(self.pair_ratio)} — {verdict(self.passed)}"
        )
        return (
            head
            + "\n\n"
            + table(("statement", "runs", "median s", "min s", "max s", "ratio"), rows)
        )


def _reset(conn: Conn) -> None:
    conn.execute(
        "vacuum (analyze) public.invoices, public.client_activities,"
        " public.email_deliveries, public.audit_log, public.clients"
    )
    conn.execute("checkpoint")


def _timed(conn: Conn, sql: str, today: object) -> tuple[float, int]:
    conn.execute("begin")
    try:
        started = time.perf_counter()
        if sql is JOB_SQL:
            marked = 0
            while True:  # the calls the job makes, here in one transaction (rolled back)
                row = conn.execute(sql, {"today": today, "batch": JOB_BATCH}).fetchone()
                assert row is not None
                marked += int(row[0]["marked"])
                if int(row[0]["marked"]) < JOB_BATCH:
                    return time.perf_counter() - started, marked
        cur = conn.execute(sql, {"today": today})
        elapsed = time.perf_counter() - started
        return elapsed, cur.rowcount
    finally:
        conn.execute("rollback")


def run(conn: Conn, rounds: int) -> Result:
    today = conn.execute("select (now() at time zone 'UTC')::date").fetchone()
    assert today is not None
    result = Result()
    conn.execute("set session_replication_role = replica")
    try:
        log("preparing: every invoice sent and unpaid, half past due")
        with conn.cursor() as cur:
            for statement in PREPARE_SQL.split(";\n"):
                cur.execute(statement)
    finally:
        conn.execute("set session_replication_role = origin")
    counts = conn.execute(
        "select count(*), count(*) filter (where status = 'sent' and due_date < %s)"
        " from public.invoices",
        today,
    ).fetchone()
    assert counts is not None
    result.invoices, result.due = int(counts[0]), int(counts[1])
    _reset(conn)
    order = []
    for i in range(rounds):
        order += ["bare", "job"] if i % 2 == 0 else ["job", "bare"]
    pair: dict[str, float] = {}
    for name in order:
        sql = BARE_SQL if name == "bare" else JOB_SQL
        seconds, marked = _timed(conn, sql, today[0])
        (result.bare if name == "bare" else result.job).append(seconds)
        result.marked.append(marked)
        log(f"{name}: {seconds:.2f} s, {marked:,} marked (load {loadavg()})")
        pair[name] = seconds
        if len(pair) == 2:
            result.pairs.append(ratio(pair["job"], pair["bare"]))
            pair = {}
        _reset(conn)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=4, help="runs of each (default 4)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    machine = Machine.describe()
    log(f"bench.jobs: {machine.nproc} CPUs, load {machine.loadavg_start}")
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:  # the data set is loaded as the superuser
            ds = dataset.load(
                conn,
                orgs=args.orgs,
                invoices=args.invoices,
                clients_per_org=20,
                large_share=0.05,
                item_invoices=args.orgs,
                existing_items=0,
            )
            log(ds.describe())
            result = run(conn, args.rounds)
            result.load = ds.describe()
    text = result.render()
    footer = (
        f"python -m bench.jobs {' '.join(argv or sys.argv[1:])}".strip()
        + f"\nmachine: {machine.nproc} CPUs, {machine.cpu_model}, {machine.postgres_binary};"
        f" load average {machine.loadavg_start} at start, {loadavg()} at end"
    )
    print("\n## Mark overdue\n\n" + text + "\n\n" + footer)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "jobs.json").write_text(
        json.dumps({"result": asdict(result), "machine": asdict(machine)}, indent=1),
        encoding="utf-8",
    )
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
