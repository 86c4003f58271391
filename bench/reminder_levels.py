"""``python -m bench.reminder_levels``: the reminders' opening with reminder levels and late
fees (issue 15; supabase/migrations/20261206110500_reminder_levels.sql) against the
statement timeout: **p95 ≤ 4 s per call** (issue 13's budget, half the 8 s timeout), each
call made as PostgREST makes it (bench.timeouts.Caller: the service role, the claims and
``statement_timeout = 8s`` set locally, the statement alone timed).

Data: bench.timeouts' (bench.dataset, every invoice but the empty drafts ``sent`` and
unpaid, half due 1-60 days ago, half within 60 days, every client with an email), then
every organization's reminders set to three levels (days -3, +7, +30), a repeat every 14
days, and a late fee of 1.5 % at levels 2 and 3. The job's loop (2,000 open invoices a
call, keyset ``due_date, id``) is timed three times over every open invoice:

1. the levels alone (the fee off), each call rolled back: the slots' cost;
2. with the late fee, committed: the first run after the fee was turned on, where every
   invoice 7 or more days overdue gets its fee (a line, its fee row, the invoice's totals,
   the client's, the audit log) -- the heaviest a call can be;
3. the same again: nothing left to open, no fee twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, Machine, connect, loadavg, log
from bench.timeouts import OPEN_BATCH, Caller, Run, load
from devstack import postgres

SETTINGS: dict[str, Any] = {
    "enabled": True,
    "levels": [
        {"days": -3, "subject": "Due {due_date}: {invoice_number}", "message": "{amount_due}"},
        {"days": 7, "subject": "Overdue: {invoice_number}", "message": "{amount_due}"},
        {"days": 30, "subject": "Final notice: {invoice_number}", "message": "{amount_due}"},
    ],
    "repeatEveryDays": 14,
    "lateFee": {"type": "percent", "amount": 1.5, "levels": [2, 3]},
}


def open_all(
    caller: Caller, run: Run, name: str, largest: str, *, rollback: bool
) -> tuple[int, int]:
    series = run.add(name, largest, f"{OPEN_BATCH:,} open invoices a call, looped")
    cursor: dict[str, Any] = {"d": None, "i": None}
    opened = fees = 0
    while True:
        body = caller.call(
            series,
            "select public.job_open_reminders(after_due_date => %(d)s, after_id => %(i)s,"
            f" batch_limit => {OPEN_BATCH})",
            cursor,
            rollback=rollback,
        )
        if body is None:
            break
        opened += int(body["opened"])
        fees += int(body["late_fees"])
        if body["done"]:
            break
        cursor = {"d": body["after_due_date"], "i": body["after_id"]}
    return opened, fees


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reminder_levels", description=__doc__)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    machine = Machine.describe()
    command = "python -m bench.reminder_levels " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    log(f"{command.strip()}: {machine.nproc} CPUs, load {machine.loadavg_start}")
    run = Run()
    started = time.perf_counter()
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(getattr(cluster, "admin_url", cluster.url)) as conn:
            load(conn, args.invoices, args.orgs)
            conn.execute(
                "update public.organization_settings set reminder_settings = %s",
                (json.dumps(SETTINGS),),
            )
            conn.execute("analyze public.organization_settings")
            row = conn.execute(
                "select count(*) from public.invoices where status in ('sent', 'overdue')"
            ).fetchone()
            n_open = int(row[0]) if row else 0
            caller = Caller(conn, run)
            caller.baseline()
            conn.execute(
                "update public.organization_settings"
                " set reminder_settings = reminder_settings || '{\"lateFee\": null}'"
            )
            opened, _ = open_all(
                caller, run, "job_open_reminders: levels, no fee (rolled back)",
                f"{n_open:,} open invoices", rollback=True,
            )  # fmt: skip
            run.notes.append(f"levels alone: {opened:,} slots opened, each call rolled back")
            conn.execute(
                "update public.organization_settings set reminder_settings = %s",
                (json.dumps(SETTINGS),),
            )
            caller.baseline()
            opened, fees = open_all(
                caller, run, "job_open_reminders: levels and late fees (first run)",
                f"{n_open:,} open invoices", rollback=False,
            )  # fmt: skip
            run.notes.append(f"first run with the fee: {opened:,} slots opened, {fees:,} late fees")
            caller.baseline()
            opened, fees = open_all(
                caller, run, "job_open_reminders: the same again",
                f"{n_open:,} open invoices", rollback=False,
            )  # fmt: skip
            run.notes.append(f"second run: {opened:,} slots opened, {fees:,} late fees")
            row = conn.execute(
                "select count(*), count(distinct (invoice_id, level)) from public.invoice_late_fees"
            ).fetchone()
            run.notes.append(f"invoice_late_fees: {row[0] if row else 0:,} rows,"
                             f" {row[1] if row else 0:,} distinct (invoice, level)")  # fmt: skip
            caller.baseline()
    elapsed = time.perf_counter() - started
    footer = (
        f"{command.strip()}\nmachine: {machine.nproc} CPUs, {machine.cpu_model},"
        f" {machine.postgres_binary}; load average {machine.loadavg_start} at start,"
        f" {loadavg()} at end; {elapsed:.0f} s in all; {machine.date}"
    )
    print("\n## Reminder levels and late fees\n\n" + run.render() + "\n\n" + footer)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reminder_levels.txt").write_text(run.render() + "\n\n" + footer + "\n")
    return 0 if run.passed() else 1


if __name__ == "__main__":
    raise SystemExit(main())
