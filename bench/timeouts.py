"""``python -m bench.timeouts``: every heavy RPC against the statement timeout, at its
largest input (issue 13; docs/architecture.md, "Statement timeouts").

On Supabase every REST request runs under a statement timeout (``authenticator`` 8 s,
``anon`` 3 s, ``authenticated`` 8 s; the service role inherits authenticator's): a call
that takes longer is cancelled with 57014. Budget: **p95 ≤ 4 s per RPC call**, half
the limit. Each call is made as PostgREST makes it: one transaction, ``role``,
``request.jwt.claims`` and ``statement_timeout = 8s`` set locally, then the function; the
statement alone is timed (what the timeout bounds). Calls that loop (the jobs, matching)
are looped as their callers loop them (functions/jobs/*, shared/reconciliation/imports).

Data (one throw-away cluster): ``bench.dataset`` (1,000 organizations, 1,000,000
invoices, 5 % in one large organization), then, as ``bench.jobs`` prepares it, every
invoice but the empty drafts ``sent`` and unpaid, half due 1-60 days ago, the other half
due within 60 days; every client has an email. Then, in organization 2, the
reconciliation data of ``bench.recon_match`` (10,000 POs x 5 lines, received, and 10,000
pending vendor invoices).

Measured, each at its largest size:

* jobs over 1,000,000 invoices: ``job_mark_overdue`` (499,500 due), the overdue notices'
  claims, ``job_open_reminders`` over every open invoice then ``job_claim_reminders``,
  ``job_claim_summaries`` (week, month; batch 50 and the maximum 500);
* the large organization (50,000 invoices) as its owner: a bulk action of 500
  (``mark_paid``, ``cancel``), every page of the invoice export, the reports over 5 years;
* reconciliation: ``import_purchase_orders`` and ``import_vendor_invoices`` of a
  10,000-row file (2,000 documents x 5 lines, the worker's call) and 1,000 documents (the
  JSON route's), matching after them in the worker's calls (the file's 2,000 invoices;
  after purchase orders, the sweep over the organization's 10,000 pending invoices).

"before" rows time the unbounded calls the code made until this issue, once, where they
still exist (``match_vendor_invoices`` over every pending invoice; ``job_claim_reminders``
opening every slot in its call), under the same 8 s timeout: ``cancelled`` is what
production would have done.

A baseline in the same run: ``select count(*), sum(total_amount) from public.invoices``
(a scan of the 1,000,000 invoices), timed between the sections; each p95 is also given as
a ratio to its median, the figure to compare across runs on this shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

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
    table,
)
from bench.jobs import PREPARE_SQL
from bench.recon_import import invoices_csv, purchase_orders_csv
from bench.recon_match import LOAD_SQL as RECON_LOAD_SQL
from devstack import postgres

BUDGET_S = 4.0
TIMEOUT = "8s"
BASELINE_SQL = "select count(*), sum(total_amount) from public.invoices"

# The callers' chunk sizes (the code's own constants).
MARK_BATCH = 2000  # functions/jobs/mark_overdue.py
OPEN_BATCH = 2000  # functions/jobs/reminders.py
MATCH_CHUNK = 250  # shared/reconciliation/imports.py


@dataclass
class Series:
    name: str
    largest: str
    bounded: str
    seconds: list[float] = field(default_factory=list)
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)
    before: bool = False

    def summary(self) -> Summary | None:
        return Summary.of(self.seconds) if self.seconds else None


@dataclass
class Run:
    series: dict[str, Series] = field(default_factory=dict)
    baseline: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, largest: str, bounded: str, *, before: bool = False) -> Series:
        if name not in self.series:
            self.series[name] = Series(name, largest, bounded, before=before)
        return self.series[name]

    def passed(self) -> bool:
        for s in self.series.values():
            if s.before:
                continue
            summary = s.summary()
            if s.cancelled or s.errors or summary is None or summary.p95 > BUDGET_S:
                return False
        return True

    def render(self) -> str:
        base = Summary.of(self.baseline).median if self.baseline else math.nan
        rows = []
        for s in self.series.values():
            summary = s.summary()
            if summary is None:
                p95 = median = worst = "-"
                ratio_text = "-"
            else:
                p95, median, worst = (
                    fmt_s(summary.p95),
                    fmt_s(summary.median),
                    fmt_s(summary.maximum),
                )
                ratio_text = fmt_ratio(summary.p95 / base) if base else "-"
            if s.before:
                verdict_text = "before"
            elif s.cancelled or s.errors or summary is None:
                verdict_text = "FAIL"
            else:
                verdict_text = "PASS" if summary.p95 <= BUDGET_S else "FAIL"
            calls = len(s.seconds) + s.cancelled
            cancelled = f" ({s.cancelled} cancelled)" if s.cancelled else ""
            rows.append(
                (s.name, s.largest, f"{calls}{cancelled}", median, p95, worst, ratio_text,
                 s.bounded, verdict_text)
            )  # fmt: skip
        head = (
            f"Baseline (`{BASELINE_SQL}`): median {base * 1000:.0f} ms of"
            f" {len(self.baseline)} runs; budget p95 ≤ {BUDGET_S:.0f} s per call"
            f" (statement_timeout {TIMEOUT})."
        )
        headers = ("RPC", "largest input", "calls", "median s", "p95 s", "max s",
                   "p95 / baseline", "how bounded", "≤ 4 s")  # fmt: skip
        text = head + "\n\n" + table(headers, rows)
        if self.notes:
            text += "\n\n" + "\n".join(f"- {note}" for note in self.notes)
        return text


class Caller:
    """Calls functions as PostgREST does: a transaction with the role, the JWT claims and
    the statement timeout set locally; times the statement alone."""

    def __init__(self, conn: Conn, run: Run) -> None:
        self.conn = conn
        self.run = run

    def baseline(self, times: int = 3) -> None:
        for _ in range(times):
            started = time.perf_counter()
            self.conn.execute(BASELINE_SQL).fetchone()
            self.run.baseline.append(time.perf_counter() - started)

    def call(
        self,
        series: Series,
        sql: str,
        params: dict[str, Any] | None = None,
        *,
        role: str = "service_role",
        sub: str | None = None,
        rollback: bool = False,
        timeout: str = TIMEOUT,
    ) -> Any:
        claims: dict[str, Any] = {"role": role}
        if sub is not None:
            claims |= {"sub": sub, "aud": "authenticated"}
        conn = self.conn
        conn.execute("begin")
        try:
            conn.execute(
                "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
                " set_config('statement_timeout', %s, true)",
                (role, json.dumps(claims), timeout),
            )
            started = time.perf_counter()
            try:
                row = conn.execute(sql, params).fetchone()
            except psycopg.errors.QueryCanceled:
                series.cancelled += 1
                log(f"{series.name}: cancelled after {time.perf_counter() - started:.2f} s")
                conn.execute("rollback")
                return None
            except psycopg.Error as error:
                series.errors.append(f"{error.sqlstate}: {str(error).splitlines()[0]}")
                log(f"{series.name}: {series.errors[-1]}")
                conn.execute("rollback")
                return None
            series.seconds.append(time.perf_counter() - started)
            conn.execute("rollback" if rollback else "commit")
            return row[0] if row else None
        except BaseException:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("rollback")
            raise


# -------------------------------------------------------------------------- the data


def load(conn: Conn, invoices: int, orgs: int) -> dataset.Dataset:
    ds = dataset.load(
        conn,
        orgs=orgs,
        invoices=invoices,
        clients_per_org=20,
        large_share=0.05,
        item_invoices=orgs,
        existing_items=0,
    )
    log(ds.describe())
    conn.execute("set session_replication_role = replica")
    try:
        with conn.cursor() as cur:
            for statement in PREPARE_SQL.split(";\n"):
                cur.execute(statement)
            cur.execute(
                "update public.clients set email = format('ap%s@client.example', left(id::text, 8))"
                " where email is null"
            )
    finally:
        conn.execute("set session_replication_role = origin")
    # Autovacuum back on (bench.dataset turns it off for its series): the jobs write
    # hundreds of thousands of rows in a run, and production plans on the statistics
    # autovacuum keeps.
    conn.execute("alter system set autovacuum = on")
    conn.execute("select pg_reload_conf()")
    conn.execute("vacuum analyze")
    return ds


# -------------------------------------------------------------------------- the jobs


def _count(conn: Conn, sql: str, *params: Any) -> int:
    row = conn.execute(sql, params or None).fetchone()
    assert row is not None
    return int(row[0])


def jobs(caller: Caller, run: Run, *, big: str, today: dt.date) -> None:
    conn = caller.conn
    n_due = _count(
        conn,
        "select count(*) from public.invoices where status = 'sent' and due_date < %s",
        today,
    )
    n_open = _count(
        conn, "select count(*) from public.invoices where status in ('sent', 'overdue')"
    )
    # Before: the reminders' claim opening every slot in its one call (still the default).
    before = run.add(
        "job_claim_reminders() opening every slot (before)",
        f"{n_open:,} open invoices",
        "one statement per step over every open invoice",
        before=True,
    )
    caller.call(before, "select public.job_claim_reminders()", rollback=True)
    _mark_overdue(caller, run, f"{n_due:,} due of {n_open:,} sent")
    _reminders(caller, run, n_open)
    _summaries(caller, run, big)


def _mark_overdue(caller: Caller, run: Run, largest: str) -> None:
    caller.baseline()
    series = run.add(
        f"job_mark_overdue(batch_limit {MARK_BATCH})",
        largest,
        f"{MARK_BATCH:,} invoices a call, looped",
    )
    marked = 0
    while True:
        body = caller.call(series, f"select public.job_mark_overdue(batch_limit => {MARK_BATCH})")
        if body is None:
            break
        marked += int(body["marked"])
        if int(body["marked"]) < MARK_BATCH:
            break
    run.notes.append(f"mark overdue: {marked:,} marked in {len(series.seconds)} calls")
    queued = caller.conn.execute(
        "select count(*), max(cardinality(invoice_ids)) from public.email_deliveries"
        " where kind = 'invoice_overdue'"
    ).fetchone()
    assert queued is not None
    notices, longest = int(queued[0]), int(queued[1] or 0)
    run.notes.append(f"overdue notices queued: {notices:,}, the largest listing {longest:,}")
    caller.baseline()
    for limit in (50, 500):
        series = run.add(
            f"job_claim_notifications(batch_limit {limit})",
            f"{notices:,} notices, up to {longest:,} invoices each",
            "≤ 100 notices a call (each lists 50 invoices)",
        )
        for _ in range(3):
            caller.call(
                series,
                f"select public.job_claim_notifications(batch_limit => {limit})",
                rollback=True,
            )


def _reminders(caller: Caller, run: Run, n_open: int) -> None:
    caller.baseline()
    series = run.add(
        f"job_open_reminders(batch_limit {OPEN_BATCH})",
        f"{n_open:,} open invoices",
        f"{OPEN_BATCH:,} open invoices a call (keyset due_date, id), looped",
    )
    cursor: dict[str, Any] = {"d": None, "i": None}
    opened = 0
    while True:
        body = caller.call(
            series,
            "select public.job_open_reminders(after_due_date => %(d)s, after_id => %(i)s,"
            f" batch_limit => {OPEN_BATCH})",
            cursor,
        )
        if body is None:
            break
        opened += int(body["opened"])
        if body["done"]:
            break
        cursor = {"d": body["after_due_date"], "i": body["after_id"]}
    run.notes.append(f"reminders: {opened:,} slots opened in {len(series.seconds)} calls")
    for limit in (50, 500):
        series = run.add(
            f"job_claim_reminders(batch_limit {limit}, open_slots false)",
            f"{opened:,} pending reminders",
            "batch_limit ≤ 500 a call",
        )
        for _ in range(3):
            caller.call(
                series,
                f"select public.job_claim_reminders(batch_limit => {limit}, open_slots => false)",
                rollback=True,
            )


def _summaries(caller: Caller, run: Run, big: str) -> None:
    n_big = _count(
        caller.conn, "select count(*) from public.invoices where organization_id = %s", big
    )
    orgs = _count(caller.conn, "select count(*) from public.organizations")
    caller.baseline()
    for period in ("week", "month"):
        for limit in (50, 500):
            series = run.add(
                f"job_claim_summaries('{period}', batch_limit {limit})",
                f"{orgs:,} organizations (one of {n_big:,} invoices)",
                "≤ 100 summaries a call (two reports each)",
            )
            for _ in range(3):
                caller.call(
                    series,
                    f"select public.job_claim_summaries('{period}', batch_limit => {limit})",
                    rollback=True,
                )
        series = run.add(
            f"job_claim_summaries('{period}') of the large organization",
            f"{n_big:,} invoices",
            "one organization's figures",
        )
        for _ in range(3):
            caller.call(
                series,
                f"select public.job_claim_summaries('{period}',"
                " organization_ids => array[%(org)s::uuid])",
                {"org": big},
                rollback=True,
            )


# -------------------------------------------------------------------------- one large tenant


def tenant(caller: Caller, run: Run, *, big: str, owner: str, today: dt.date) -> None:
    conn = caller.conn
    n_big = _count(conn, "select count(*) from public.invoices where organization_id = %s", big)
    caller.baseline()
    for action, order in (("mark_paid", "id"), ("cancel", "id desc")):
        rows = conn.execute(
            "select array_agg(id) from (select id from public.invoices where organization_id = %s"
            f" and status in ('sent', 'overdue') order by {order} limit 500) x",
            (big,),
        ).fetchone()
        assert rows
        assert rows[0]
        series = run.add(
            f"bulk_invoice_action('{action}')",
            f"{len(rows[0])} invoices (the API's maximum: 500)",
            "the API's 500 ids",
        )
        for _ in range(3):
            caller.call(
                series,
                "select public.bulk_invoice_action(%(org)s, %(action)s, %(ids)s)",
                {"org": big, "action": action, "ids": rows[0]},
                role="authenticated",
                sub=owner,
                rollback=True,
            )

    rows = conn.execute(
        "select array_agg(id) from (select id from public.invoices where organization_id = %s"
        " and status in ('sent', 'overdue') order by id limit 500) x",
        (big,),
    ).fetchone()
    assert rows
    series = run.add(
        "create_bulk_send (queued)",
        f"{len(rows[0])} invoices (the API's maximum: 500)",
        "the API's 500 ids (the emails: 10 a queue message)",
    )
    for _ in range(3):
        caller.call(
            series,
            "select public.create_bulk_send(%(org)s, %(ids)s, '{}', true)",
            {"org": big, "ids": rows[0]},
            role="authenticated",
            sub=owner,
            rollback=True,
        )

    series = run.add(
        "export_invoice_page(page_rows 5000)",
        f"every page of {n_big:,} invoices",
        "keyset pages of 5,000",
    )
    after: tuple[Any, Any] = (None, None)
    while True:
        page = caller.call(
            series,
            "select public.export_invoice_page(%(org)s, %(d)s, %(i)s, 5000)",
            {"org": big, "d": after[0], "i": after[1]},
            role="authenticated",
            sub=owner,
        )
        if not page:
            break
        last = page[-1]
        after = (last[_EXPORT_DATE], last[_EXPORT_ID])
        if len(page) < 5000:
            break

    five_years = {"org": big, "f": today.replace(year=today.year - 5), "t": today}
    reports: list[tuple[str, str]] = [
        ("reports_overview", "select public.reports_overview(%(org)s, %(f)s, %(t)s)"),
        ("reports_revenue (month)",
         "select public.reports_revenue(%(org)s, %(f)s, %(t)s, 'month')"),
        ("reports_payment_status", "select public.reports_payment_status(%(org)s, %(f)s, %(t)s)"),
        ("reports_client_performance",
         "select public.reports_client_performance(%(org)s, %(f)s, %(t)s)"),
        ("dashboard_metrics", "select public.dashboard_metrics(%(org)s)"),
        ("dashboard_revenue_chart (36 months, its maximum)",
         "select public.dashboard_revenue_chart(%(org)s, 36)"),
    ]  # fmt: skip
    caller.baseline()
    for name, sql in reports:
        series = run.add(name, f"5 years of {n_big:,} invoices", "the range (≤ 5 years)")
        for _ in range(3):
            caller.call(series, sql, five_years, role="authenticated", sub=owner, rollback=True)


# The export page's columns: find the issue date and id in a row (arrays, see exports.sql).
_EXPORT_DATE = 4
_EXPORT_ID = 17


# -------------------------------------------------------------------------- reconciliation


def _documents(data: bytes, kind: str) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    from shared.reconciliation.ingest import parse_csv  # noqa: PLC0415

    parsed = parse_csv(data, kind, policy="all_or_nothing")  # type: ignore[arg-type]
    assert not parsed.errors, parsed.errors[:3]
    return parsed.documents, parsed.rows_total, parsed.columns


def _import(
    caller: Caller, series: Series, function: str, org: str, *, data: bytes, kind: str, **kw: Any
) -> list[str]:
    docs, rows, columns = _documents(data, kind)
    body = caller.call(
        series,
        f"select public.{function}(%(org)s, %(batch)s, 'all_or_nothing', '[]'::jsonb,"
        " %(rows)s, null, %(columns)s)",
        {"org": org, "batch": Jsonb(docs), "rows": rows, "columns": Jsonb(columns)},
        **kw,
    )
    if body is None:
        return []
    assert body["batch"]["status"] == "completed", body["batch"]
    return [str(item["id"]) for item in body["accepted"]]


def _match_chunks(caller: Caller, series: Series, org: str, ids: list[str]) -> int:
    done = 0
    for start in range(0, len(ids), MATCH_CHUNK):
        body = caller.call(
            series,
            "select public.match_vendor_invoices(%(org)s, %(ids)s::uuid[])",
            {"org": org, "ids": ids[start : start + MATCH_CHUNK]},
        )
        done += int(body["invoices"]) if body else 0
    return done


def _sweep(caller: Caller, series: Series, org: str) -> int:
    """The organization's pending and exception invoices, a page of 500 a call (the
    worker's sweep after purchase orders or receipts)."""
    done = 0
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        rows = caller.conn.execute(
            "select id::text from public.vendor_invoices where organization_id = %s"
            " and status in ('pending', 'exception') and id > %s order by id limit %s",
            (org, after, MATCH_CHUNK),
        ).fetchall()
        if not rows:
            return done
        ids = [r[0] for r in rows]
        body = caller.call(
            series,
            "select public.match_vendor_invoices(%(org)s, %(ids)s::uuid[])",
            {"org": org, "ids": ids},
        )
        done += int(body["invoices"]) if body else 0
        after = ids[-1]


def reconciliation(caller: Caller, run: Run, *, org: str, owner: str) -> None:
    conn = caller.conn
    log("reconciliation data: 10,000 POs x 5 lines received, 10,000 pending invoices")
    with conn.transaction():
        for statement in RECON_LOAD_SQL.split(";\n\n"):
            if statement.strip():
                conn.execute(statement, {"org": org, "n": 10_000})
    conn.execute("vacuum analyze")
    pending = 10_000

    caller.baseline()
    before = run.add(
        "match_vendor_invoices(org), every pending invoice (before)",
        f"{pending:,} pending invoices x 5 lines",
        "one call over all",
        before=True,
    )
    caller.call(before, "select public.match_vendor_invoices(%(org)s)", {"org": org}, rollback=True)

    caller.baseline()
    # The invoice file first (its 2,000 invoices name purchase orders not imported yet:
    # missing_po exceptions), then the purchase orders they name: the import does not
    # re-match inside its call (invoiceflow.deferred_rematch); the worker's sweep after it
    # re-matches them, with the organization's other pending and exception invoices.
    po_file = purchase_orders_csv(10_000, seed=13)
    inv_file = invoices_csv(10_000, seed=13)
    series = run.add(
        "import_vendor_invoices (worker, file)", "10,000 rows (2,000 invoices x 5 lines)",
        "the file's limit: one all-or-nothing call",
    )  # fmt: skip
    ids = _import(
        caller, series, "import_vendor_invoices", org, data=inv_file, kind="vendor_invoices"
    )
    series = run.add(
        "match_vendor_invoices after a 10,000-row invoice import",
        f"{len(ids):,} new invoices",
        f"{MATCH_CHUNK} invoices a call (imports.match_in_chunks)",
    )
    matched = _match_chunks(caller, series, org, ids)
    run.notes.append(f"matching after the invoice file: {matched:,} invoices matched")
    series = run.add(
        "import_purchase_orders (worker, file)",
        "10,000 rows (2,000 POs x 5 lines), named by 2,000 exception invoices",
        "the file's limit: one all-or-nothing call; no re-match inside",
    )
    _import(caller, series, "import_purchase_orders", org, data=po_file, kind="purchase_orders")
    waiting = _count(
        conn,
        "select count(*) from public.vendor_invoices where organization_id = %s"
        " and status in ('pending', 'exception')",
        org,
    )
    caller.baseline()
    series = run.add(
        "match_vendor_invoices sweep after a 10,000-row PO import",
        f"{waiting:,} pending and exception invoices",
        f"{MATCH_CHUNK} invoices a call, keyset by id",
    )
    swept = _sweep(caller, series, org)
    exceptions = _count(
        conn,
        "select count(*) from public.vendor_invoices where id = any(%s::uuid[])"
        " and status = 'exception'",
        ids,
    )
    run.notes.append(
        f"the sweep after the PO file: {swept:,} invoices re-matched; of the invoice file's"
        f" {len(ids):,}, {exceptions:,} still in exception (they were all missing_po before)"
    )

    thousand = [
        r[0]
        for r in conn.execute(
            "select id::text from public.vendor_invoices where organization_id = %s"
            " order by id limit 1000",
            (org,),
        ).fetchall()
    ]
    series = run.add(
        "match_vendor_invoices (POST /match, ids)",
        f"{len(thousand):,} ids (the route's maximum: 1,000)",
        "the route's 1,000 ids: one call",
    )
    for _ in range(3):
        caller.call(
            series,
            "select public.match_vendor_invoices(%(org)s, %(ids)s::uuid[])",
            {"org": org, "ids": thousand},
            role="authenticated",
            sub=owner,
            rollback=True,
        )

    json_file = invoices_csv(5_000, seed=14).replace(b"INV-", b"JSN-")
    series = run.add(
        "import_vendor_invoices (JSON route)", "1,000 documents x 5 lines",
        "the route's 1,000 documents",
    )  # fmt: skip
    _import(
        caller, series, "import_vendor_invoices", org, data=json_file, kind="vendor_invoices",
        role="authenticated", sub=owner, rollback=True,
    )  # fmt: skip
    po_json = purchase_orders_csv(5_000, seed=15).replace(b"PO-", b"PJ-")
    series = run.add(
        "import_purchase_orders (JSON route)", "1,000 documents x 5 lines",
        "the route's 1,000 documents",
    )  # fmt: skip
    _import(
        caller, series, "import_purchase_orders", org, data=po_json, kind="purchase_orders",
        role="authenticated", sub=owner, rollback=True,
    )  # fmt: skip


# -------------------------------------------------------------------------- main


SECTIONS = ("jobs", "tenant", "reconciliation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timeouts", description=__doc__)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--only", action="append", choices=SECTIONS)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    only = args.only or list(SECTIONS)
    machine = Machine.describe()
    command = "python -m bench.timeouts " + " ".join(argv if argv is not None else sys.argv[1:])
    log(f"{command.strip()}: {machine.nproc} CPUs, load {machine.loadavg_start}")
    run = Run()
    started = time.perf_counter()
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        # The superuser (the bulk load switches triggers and autovacuum off): supabase_admin
        # where the local stack has one, else postgres.
        with connect(getattr(cluster, "admin_url", cluster.url)) as conn:
            ds = load(conn, args.invoices, args.orgs)
            assert ds.large is not None
            assert ds.typical
            big, owner = str(ds.large.organization_id), str(ds.large.owner_id)
            today_row = conn.execute("select (now() at time zone 'UTC')::date").fetchone()
            assert today_row is not None
            today: dt.date = today_row[0]
            caller = Caller(conn, run)
            caller.baseline()
            sections: dict[str, Callable[[], None]] = {
                "jobs": lambda: jobs(caller, run, big=big, today=today),
                "tenant": lambda: tenant(caller, run, big=big, owner=owner, today=today),
                "reconciliation": lambda: reconciliation(
                    caller,
                    run,
                    org=str(ds.typical[0].organization_id),
                    owner=str(ds.typical[0].owner_id),
                ),
            }
            for name in SECTIONS:
                if name in only:
                    log(f"section {name} (load {loadavg()})")
                    sections[name]()
            caller.baseline()
    elapsed = time.perf_counter() - started
    text = run.render()
    footer = (
        f"{command.strip()}\nmachine: {machine.nproc} CPUs, {machine.cpu_model},"
        f" {machine.postgres_binary}; load average {machine.loadavg_start} at start,"
        f" {loadavg()} at end; {elapsed:.0f} s in all; {machine.date}"
    )
    print("\n## Statement timeouts\n\n" + text + "\n\n" + footer)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "timeouts.json").write_text(
        json.dumps(
            {
                "series": {k: asdict(v) for k, v in run.series.items()},
                "baseline": run.baseline,
                "notes": run.notes,
                "machine": asdict(machine),
                "command": command,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return 0 if run.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
