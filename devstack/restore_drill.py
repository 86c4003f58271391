"""The restore drill (``make restore-drill``; docs/security.md, "The restore drill"): the
monthly restoration test the reconciliation seed asks for, runnable anywhere.

1. A source database with data: ``--source URL`` (the superuser's URL of a database to
   drill, e.g. a staging copy), or by default a throw-away cluster with every migration,
   the seed and a generated book of business (invoices, payments, an overpayment's credit,
   a credit note, a refund) so that every money table has rows.
2. Its dump, as production's backups are taken: the roles (``pg_dumpall --roles-only``)
   and the database (``pg_dump --format=custom``).
3. A restore into a fresh cluster (``initdb``; the roles, then ``pg_restore
   --exit-on-error`` into a new database).
4. The comparison: the row count of every table of every schema, equal on both sides, and
   the money invariants checked on the restored database and equal to the source's —
   every invoice's balance_due = total - paid - credited >= 0, amount_paid = its payments'
   applied amounts, each client's outstanding balance = the balances due of its sent and
   overdue invoices, each client credit balance = the sum of its ledger; plus the sums of
   totals, payments and balances per currency.

Exit 0 when the restored copy is whole; 1 with what differs. Prints the figures (sizes,
durations) as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from devstack.postgres import (
    ADMIN_USER,
    _as_postgres_user,
    _chown_to_postgres,
    bootstrap,
    ephemeral_cluster,
    pg_bindir,
)

# tests.create_supabase_user and friends: people signing up, as the seed makes them.
HELPERS = Path(__file__).resolve().parents[1] / "supabase/tests/000-setup-tests-helpers.sql"

# Row counts of every table of these schemas are compared (Supabase's own and ours).
SCHEMAS = ("public", "private", "auth", "realtime", "supabase_migrations", "extensions")

INVARIANTS: dict[str, str] = {
    # Each: rows that break the rule (none expected).
    "invoice_balance": (
        "select id from public.invoices"
        " where balance_due <> total_amount - amount_paid - amount_credited or balance_due < 0"
    ),
    "invoice_paid_is_payments": (
        "select i.id from public.invoices i left join lateral"
        " (select coalesce(sum(p.applied_amount), 0) as applied from public.payments p"
        "  where p.invoice_id = i.id) p on true where i.amount_paid <> p.applied"
    ),
    "client_outstanding": (
        "select c.id from public.clients c left join lateral"
        " (select coalesce(sum(i.balance_due), 0) as due from public.invoices i"
        "  where i.client_id = c.id and i.status in ('sent', 'overdue')) i on true"
        " where c.outstanding_balance <> i.due"
    ),
    "client_credit_ledger": (
        "select b.id from public.client_credit_balances b left join lateral"
        " (select coalesce(sum(e.amount), 0) as total from public.client_credit_entries e"
        "  where e.client_id = b.client_id and e.currency = b.currency) e on true"
        " where b.balance <> e.total"
    ),
}

SUMS = (
    "select currency, sum(total_amount)::text, sum(amount_paid)::text, sum(balance_due)::text,"
    " count(*) from public.invoices group by currency order by currency"
)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _tool(name: str) -> str:
    return str(pg_bindir() / name)


def _run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(_as_postgres_user(cmd), capture_output=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return done


def generate_business(url: str, organizations: int = 3, invoices: int = 40) -> None:
    """Rows in every money table, through the migrations' own rules (as the superuser:
    the seed's way), so the invariants are the application's, not this script's."""
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(organizations):
            # A person signs up: their personal organization (the signup trigger's).
            conn.execute("select tests.create_supabase_user(%s)", (f"drill-{n}",))
            org = conn.execute("select tests.personal_org(%s)::text", (f"drill-{n}",)).fetchone()
            assert org is not None
            conn.execute(
                "update public.organization_settings set overpayment = 'credit'"
                " where organization_id = %s",
                (org[0],),
            )
            client = conn.execute(
                "insert into public.clients (organization_id, company_name, currency)"
                " values (%s, 'Drill client', 'EUR') returning id::text",
                (org[0],),
            ).fetchone()
            assert client is not None
            for i in range(invoices):
                invoice = conn.execute(
                    "insert into public.invoices (organization_id, client_id, currency, issue_date,"
                    " due_date) values (%s, %s, 'EUR', current_date - 30, current_date + %s)"
                    " returning id::text",
                    (org[0], client[0], i - 20),
                ).fetchone()
                assert invoice is not None
                conn.execute(
                    "insert into public.invoice_items (organization_id, invoice_id, currency,"
                    " description, quantity, rate) values (%s, %s, 'EUR', 'Work', %s, 12.34)",
                    (org[0], invoice[0], 1 + i % 5),
                )
                conn.execute(
                    "update public.invoices set status = 'sent' where id = %s", (invoice[0],)
                )
                if i % 3 == 0:  # paid in part
                    conn.execute(
                        "insert into public.payments (organization_id, invoice_id, currency,"
                        " amount) values (%s, %s, 'EUR', 5.55)",
                        (org[0], invoice[0]),
                    )
                if i % 7 == 1:  # overpaid: the excess becomes client credit
                    conn.execute("select public.record_payment(%s, %s, 100)", (org[0], invoice[0]))
                if i % 11 == 2:  # credited
                    conn.execute(
                        "select public.create_credit_note(%s, %s,"
                        " jsonb_build_object('kind', 'amount', 'amount', 2))",
                        (org[0], invoice[0]),
                    )


def counts(url: str) -> dict[str, int]:
    """Exact row counts of every ordinary table of SCHEMAS (partitions as their parent)."""
    found: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select n.nspname, c.relname from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any(%s)"
            " order by 1, 2",
            (list(SCHEMAS),),
        ).fetchall()
        for schema, table in tables:
            row = conn.execute(
                psycopg.sql.SQL("select count(*) from {}.{}").format(
                    psycopg.sql.Identifier(str(schema)), psycopg.sql.Identifier(str(table))
                )
            ).fetchone()
            found[f"{schema}.{table}"] = int(row[0]) if row else 0
    return found


def money(url: str) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """Per invariant, how many rows break it; and the sums per currency."""
    with psycopg.connect(url) as conn:
        broken = {name: len(conn.execute(query).fetchall()) for name, query in INVARIANTS.items()}
        sums = conn.execute(SUMS).fetchall()
    return broken, sums


def compare(source_url: str, restored_url: str, report: Report) -> None:
    before, after = counts(source_url), counts(restored_url)
    report.figures["tables"] = len(before)
    report.figures["rows"] = sum(before.values())
    for table in ("public.payments", "public.client_credit_entries", "public.credit_notes"):
        report.figures[table.removeprefix("public.")] = before.get(table, 0)
    for table in sorted(set(before) | set(after)):
        if before.get(table) != after.get(table):
            report.problems.append(
                f"{table}: {before.get(table)} rows in the source, {after.get(table)} restored"
            )
    broken_before, sums_before = money(source_url)
    broken_after, sums_after = money(restored_url)
    report.figures["invoices"] = sum(int(row[4]) for row in sums_before)
    for name, count in broken_after.items():
        if count:
            report.problems.append(f"invariant {name}: {count} rows break it in the restored copy")
        if broken_before[name]:
            report.problems.append(f"invariant {name}: {broken_before[name]} rows in the source")
    if sums_before != sums_after:
        report.problems.append(f"money sums differ: {sums_before} != {sums_after}")


@contextmanager
def _work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="restore-drill-") as name:
        path = Path(name)
        path.chmod(0o755)
        _chown_to_postgres(path)
        yield path


def dump_and_restore(source_admin_url: str, report: Report) -> None:
    """Dumps ``source_admin_url``'s roles and database, restores them into a fresh cluster
    and compares."""
    with _work_dir() as work, ephemeral_cluster() as target:
        roles, dump = work / "roles.sql", work / "database.dump"
        started = time.perf_counter()
        _run(
            [
                _tool("pg_dumpall"),
                "--roles-only",
                "--no-role-passwords",
                "-f",
                str(roles),
                "-d",
                source_admin_url,
            ],
            "pg_dumpall --roles-only",
        )
        _run(
            [_tool("pg_dump"), "--format=custom", "-f", str(dump), "-d", source_admin_url],
            "pg_dump",
        )
        report.figures["dump_seconds"] = round(time.perf_counter() - started, 2)
        report.figures["dump_bytes"] = dump.stat().st_size
        target_admin = make_conninfo(target.url, user=ADMIN_USER)
        # The roles: those the cluster already has (its superuser) answer "already exists".
        _run(
            [_tool("psql"), "-q", "-v", "ON_ERROR_STOP=0", "-f", str(roles), "-d", target_admin],
            "the roles' restore",
        )
        with psycopg.connect(target_admin, autocommit=True) as conn:
            conn.execute("create database restored")
        restored_admin = make_conninfo(target_admin, dbname="restored")
        started = time.perf_counter()
        _run(
            [_tool("pg_restore"), "--exit-on-error", "-d", restored_admin, str(dump)],
            "pg_restore",
        )
        report.figures["restore_seconds"] = round(time.perf_counter() - started, 2)
        compare(source_admin_url, restored_admin, report)


def drill(source_admin_url: str | None = None) -> Report:
    report = Report()
    if source_admin_url:
        dump_and_restore(source_admin_url, report)
        return report
    with ephemeral_cluster() as source:
        bootstrap(source.url, seed=True)
        with psycopg.connect(make_conninfo(source.url, user=ADMIN_USER), autocommit=True) as conn:
            helpers = (
                Path(__file__).resolve().parents[1] / "supabase/tests/000-setup-tests-helpers.sql"
            )
            conn.execute(helpers.read_text())
        generate_business(make_conninfo(source.url, user=ADMIN_USER))
        dump_and_restore(make_conninfo(source.url, user=ADMIN_USER), report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", help="superuser URL of the database to drill (default: a generated one)"
    )
    args = parser.parse_args(argv)
    report = drill(args.source)
    for problem in report.problems:
        print("DIFFERS:", problem)
    print("restore drill:", "OK" if report.ok else "FAILED")
    print(json.dumps(report.figures))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
