"""The audit trigger's cost on every write (issue 19's tax model, continued; migration
20261206171400_audit_speed.sql): the same writes with the trigger before and after it,
side by side in one run.

    .venv/bin/python -m bench.audit_trigger [--rounds 5] [--calls 100] [--import-rows 1000]
                                            [--imports 2]
    .venv/bin/python -m bench.audit_trigger --report bench/out/audit_trigger.json

One PostgreSQL cluster, two databases made from this checkout's migrations and the seed:
``before`` without ``20261206171400_audit_speed.sql``, ``after`` with every migration, and
``no_audit``, ``after`` with every audit trigger disabled: the floor, so that the trigger's
own share shows (each figure minus the floor's).
In each round, each database in turn (the order alternating), as the seed's demo user
(``authenticated``, its ``request.jwt.claims``) on one connection per database kept for the
whole run, as PostgREST's pooled connections are:

- ``create``: ``public.create_invoice`` of 20 lines in 3 rates (19 %, 7 % and a reverse
  charge line, as bench/tax_model.py), ``--calls`` calls;
- ``payment``: ``public.record_payment`` of 1.00 on each invoice just created;
- ``import``: ``public.import_vendor_invoices`` of ``--import-rows`` rows (invoices of 5
  lines), ``--imports`` calls.

Each figure is the backend's CPU time (``/proc/<pid>/stat`` of the connection's server
process: what the SQL costs, steadier than the wall time on a shared machine) and the wall
time, per call; the medians over rounds and the ratio after / before. Writes
bench/out/audit_trigger.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.common import OUT_DIR, Conn, connect, loadavg, log, table

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "supabase" / "migrations"
THE_MIGRATION = "20261206171400_audit_speed.sql"
SEED_USER = "d0000000-0000-4000-8000-000000000001"
SEED_CLIENT = "c0000000-0000-4000-8000-000000000001"
TICK = os.sysconf("SC_CLK_TCK")
TREES = ("before", "after", "no_audit")
WORKLOADS = ("create", "payment", "import")


def _backend_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK * 1000


def _lines() -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for n in range(20):
        line: dict[str, Any] = {
            "description": f"Line {n}",
            "quantity": str(1 + n % 3),
            "rate": f"{17 + n}.35",
        }
        if n % 3 == 1:
            line["tax_rate"] = "7"
        elif n % 3 == 2:
            line.update(vat_category="AE", tax_exemption_reason_code="VATEX-EU-AE")
        lines.append(line)
    return lines


def _import_batch(rows: int, tag: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    row = 1
    for n in range(rows // 5):
        lines = [
            {
                "row": row + k,
                "at": "",
                "line_number": k + 1,
                "description": f"Part {k}",
                "quantity": str(1 + k),
                "unit_price": f"{3 + n % 7}.25",
            }
            for k in range(5)
        ]
        documents.append(
            {
                "index": row,
                "rows": [row + k for k in range(5)],
                "vendor_name": f"Vendor {n % 50}",
                "invoice_number": f"{tag}-{n:05d}",
                "invoice_date": "2026-03-01",
                "currency": "EUR",
                "lines": lines,
            }
        )
        row += 5
    return documents


class Tree:
    """One database of the run, with its migrations, and the demo user's connection."""

    def __init__(self, name: str, cluster_url: str, migrations: Path) -> None:
        from devstack import postgres  # noqa: PLC0415

        self.name = name
        with connect(postgres.admin_url(cluster_url)) as admin:
            admin.execute(
                sql.SQL("create database {} owner postgres").format(sql.Identifier(f"audit_{name}"))
            )
        self.url = make_conninfo(cluster_url, dbname=f"audit_{name}")
        postgres.bootstrap(self.url, seed=True, migrations_dir=migrations)
        self.conn: Conn = connect(self.url)
        self.conn.execute("select set_config('request.jwt.claims', %s, false)", (self._claims(),))
        self.conn.execute("set role authenticated")
        found = self.conn.execute(
            "select organization_id::text from public.memberships where user_id = %s",
            (SEED_USER,),
        ).fetchone()
        assert found is not None
        self.org = str(found[0])
        pid = self.conn.execute("select pg_backend_pid()").fetchone()
        assert pid is not None
        self.pid = int(pid[0])
        self.invoice = json.dumps({"client_id": SEED_CLIENT, "tax_rate": "19", "status": "sent"})
        self.items = json.dumps(_lines())
        self.made: list[str] = []

    @staticmethod
    def _claims() -> str:
        return json.dumps({"sub": SEED_USER, "role": "authenticated", "aud": "authenticated"})

    def audit_entries(self) -> int:
        row = self.conn.execute("select count(*) from public.audit_log").fetchone()
        return int(row[0]) if row else 0

    def create(self, calls: int) -> tuple[float, float]:
        self.made = []
        cpu = _backend_cpu_ms(self.pid)
        started = time.perf_counter()
        for _ in range(calls):
            row = self.conn.execute(
                "select public.create_invoice(%s::uuid, %s::jsonb, %s::jsonb) ->> 'id'",
                (self.org, self.invoice, self.items),
            ).fetchone()
            assert row is not None
            self.made.append(str(row[0]))
        wall = (time.perf_counter() - started) * 1000
        return (_backend_cpu_ms(self.pid) - cpu) / calls, wall / calls

    def payment(self) -> tuple[float, float]:
        cpu = _backend_cpu_ms(self.pid)
        started = time.perf_counter()
        for invoice_id in self.made:
            self.conn.execute(
                "select public.record_payment(%s::uuid, %s::uuid, 1.00, current_date,"
                " 'bank_transfer', null, null)",
                (self.org, invoice_id),
            )
        wall = (time.perf_counter() - started) * 1000
        calls = len(self.made)
        return (_backend_cpu_ms(self.pid) - cpu) / calls, wall / calls

    def import_(self, rows: int, calls: int, tag: str) -> tuple[float, float]:
        batches = [json.dumps(_import_batch(rows, f"{tag}-{n}")) for n in range(calls)]
        cpu = _backend_cpu_ms(self.pid)
        started = time.perf_counter()
        for batch in batches:
            row = self.conn.execute(
                "select public.import_vendor_invoices(%s::uuid, %s::jsonb, 'all_or_nothing',"
                " '[]'::jsonb, %s) -> 'batch' ->> 'status'",
                (self.org, batch, rows),
            ).fetchone()
            if row is None or row[0] != "completed":
                raise RuntimeError(f"the import did not complete: {row}")
        wall = (time.perf_counter() - started) * 1000
        return (_backend_cpu_ms(self.pid) - cpu) / calls, wall / calls

    def disable_audit(self) -> None:
        """Every audit trigger off (as the tables' owner, postgres)."""
        with connect(self.url) as owner:
            owner.execute(
                """
                do $$
                declare t record;
                begin
                  for t in select g.tgrelid::regclass as tbl, g.tgname from pg_trigger g
                           join pg_proc p on p.oid = g.tgfoid
                           where p.proname in ('record_audit', 'record_organization_audit')
                  loop
                    execute format('alter table %s disable trigger %I', t.tbl, t.tgname);
                  end loop;
                end $$
                """
            )


def measure(
    *, rounds: int, calls: int, import_rows: int, imports: int, warm: int, migration: Path
) -> dict[str, Any]:
    from devstack import postgres  # noqa: PLC0415

    figures: dict[str, dict[str, dict[str, list[float]]]] = {
        t: {w: {"cpu": [], "wall": []} for w in WORKLOADS} for t in TREES
    }
    loads = [loadavg()]
    with tempfile.TemporaryDirectory(prefix="audit-trigger-") as tmp:
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        for directory in (before, after):
            directory.mkdir()
            for path in MIGRATIONS.glob("*.sql"):
                if path.name != THE_MIGRATION:
                    shutil.copy(path, directory / path.name)
        shutil.copy(migration, after / THE_MIGRATION)
        with postgres.ephemeral_cluster() as cluster:
            trees = {
                "before": Tree("before", cluster.url, before),
                "after": Tree("after", cluster.url, after),
                "no_audit": Tree("no_audit", cluster.url, after),
            }
            trees["no_audit"].disable_audit()
            for tree in trees.values():  # the sessions' plans made, as a pool's are
                tree.create(warm)
                tree.payment()
                tree.import_(50, 1, f"warm-{tree.name}")
            for round_ in range(rounds):
                order = TREES[round_ % 3 :] + TREES[: round_ % 3]
                for name in order:
                    tree = trees[name]
                    results = {
                        "create": tree.create(calls),
                        "payment": tree.payment(),
                        "import": tree.import_(import_rows, imports, f"r{round_}-{name}"),
                    }
                    for workload, (cpu, wall) in results.items():
                        figures[name][workload]["cpu"].append(cpu)
                        figures[name][workload]["wall"].append(wall)
                loads.append(loadavg())
                log(f"round {round_ + 1} of {rounds} done, load {loads[-1]}")
            entries = {name: tree.audit_entries() for name, tree in trees.items()}
            for tree in trees.values():
                tree.conn.close()
    return {
        "rounds": rounds,
        "calls": calls,
        "import_rows": import_rows,
        "imports": imports,
        "loadavg": loads,
        "audit_entries": entries,
        "figures": figures,
    }


def report(result: dict[str, Any]) -> str:
    figures = result["figures"]
    rows = []
    for workload in WORKLOADS:
        unit = "ms a call" if workload != "import" else f"ms a {result['import_rows']}-row call"
        median = {
            (tree, kind): statistics.median(figures[tree][workload][kind])
            for tree in TREES
            for kind in ("cpu", "wall")
        }
        cpu_before, cpu_after = median[("before", "cpu")], median[("after", "cpu")]
        floor = median[("no_audit", "cpu")]
        wall_before, wall_after = median[("before", "wall")], median[("after", "wall")]
        rows.append(
            [
                f"{workload} ({unit})",
                f"{cpu_before:.2f}",
                f"{cpu_after:.2f}",
                f"{cpu_after / cpu_before:.2f}x",
                f"{floor:.2f}",
                f"{cpu_before - floor:.2f} -> {cpu_after - floor:.2f}",
                f"{wall_before:.2f}",
                f"{wall_after:.2f}",
                f"{wall_after / wall_before:.2f}x",
            ]
        )
    headers = [
        "workload (medians of rounds)",
        "CPU before",
        "CPU after",
        "CPU ratio",
        "CPU, no audit",
        "the audit's CPU",
        "wall before",
        "wall after",
        "wall ratio",
    ]
    lines = [
        table(headers, rows),
        "",
        f"rounds: {result['rounds']}; a round: {result['calls']} creates, as many payments,"
        f" {result['imports']} imports of {result['import_rows']} rows, in each database;"
        f" audit entries at the end: {result['audit_entries']}",
        f"load averages (start, after each round): {'; '.join(result['loadavg'])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_trigger")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--import-rows", type=int, default=1000)
    parser.add_argument("--imports", type=int, default=2, help="import calls a round")
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument(
        "--migration",
        type=Path,
        default=MIGRATIONS / THE_MIGRATION,
        help=f"the {THE_MIGRATION} to measure (a draft elsewhere, say)",
    )
    parser.add_argument("--report", type=Path, help="print the report of a saved run")
    args = parser.parse_args(argv)
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return 0
    result = measure(
        rounds=args.rounds,
        calls=args.calls,
        import_rows=args.import_rows,
        imports=args.imports,
        warm=args.warm,
        migration=args.migration,
    )
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "audit_trigger.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
