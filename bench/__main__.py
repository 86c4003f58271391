"""``python -m bench``: every benchmark, on throw-away clusters; ``--help`` for the knobs."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import api as api_bench
from bench import dataset, items, rls, startup
from bench import stack as stack_bench
from bench import timeouts as timeouts_bench
from bench.common import OUT_DIR, Machine, connect, loadavg, log
from devstack import postgres

BENCHMARKS = ("startup", "rls", "items", "stack", "api", "timeouts")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of the InvoiceFlow database against the issue's budgets.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable); default: all",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 100 organizations, 100,000 invoices, 1,000 item invoices, fewer"
        " repetitions (about 1 minute)",
    )
    data = parser.add_argument_group("data set (rls and items)")
    data.add_argument("--orgs", type=int, default=1000)
    data.add_argument("--invoices", type=int, default=1_000_000)
    data.add_argument("--clients-per-org", type=int, default=20)
    data.add_argument(
        "--large-share",
        type=float,
        default=0.05,
        help="share of all invoices in organization 1, the large one (default 0.05)",
    )
    data.add_argument(
        "--existing-items",
        type=int,
        default=3,
        help="lines already on every non-empty invoice (default 3: about 3 million)",
    )
    data.add_argument("--items-invoices", type=int, default=10_000)
    data.add_argument("--items-per-invoice", type=int, default=10)
    reps = parser.add_argument_group("repetitions")
    reps.add_argument("--startup-runs", type=int, default=5)
    reps.add_argument("--rls-rounds", type=int, default=300)
    reps.add_argument("--items-reps", type=int, default=3)
    reps.add_argument(
        "--seed-reps", type=int, default=1, help="runs of the (slow) seed design per mode"
    )
    parser.add_argument(
        "--modes",
        default=",".join(items.MODES),
        help="items insert modes, comma-separated: single,batched",
    )
    parser.add_argument(
        "--no-candidates",
        action="store_true",
        help="skip the candidate RLS function variants",
    )
    parser.add_argument(
        "--no-diagnostics", action="store_true", help="skip the items EXPLAIN/auto_explain run"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT_DIR,
        help=f"where results.md and results.json go (default {OUT_DIR})",
    )
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {
            "orgs": 1000,
            "invoices": 1_000_000,
            "items_invoices": 10_000,
            "rls_rounds": 300,
            "startup_runs": 5,
            "items_reps": 3,
        }
        quick = {
            "orgs": 100,
            "invoices": 100_000,
            "items_invoices": 1_000,
            "rls_rounds": 100,
            "startup_runs": 3,
            "items_reps": 2,
        }
        for name, value in quick.items():
            if getattr(args, name) == defaults[name]:
                setattr(args, name, value)
    args.modes = [m for m in args.modes.split(",") if m]
    for mode in args.modes:
        if mode not in items.MODES:
            parser.error(f"unknown mode {mode!r}")
    args.only = args.only or list(BENCHMARKS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    machine = Machine.describe()
    started = time.perf_counter()
    log(f"{command.strip()} — {machine.nproc} CPUs, load {machine.loadavg_start}")
    sections: list[str] = []
    raw: dict[str, Any] = {"command": command, "machine": asdict(machine), "args": {}}
    raw["args"] = {k: str(v) for k, v in vars(args).items()}
    verdicts: list[tuple[str, bool]] = []

    if "startup" in args.only:
        result = startup.run(args.startup_runs)
        text = result.render()
        print("\n## Budget 1: fresh cluster + platform SQL + migrations\n\n" + text + "\n")
        sections.append("## Budget 1: fresh cluster ready\n\n" + text)
        raw["startup"] = [asdict(r) for r in result.runs]
        verdicts.append(("1 startup ≤ 5 s", result.passed))

    if "rls" in args.only or "items" in args.only:
        with postgres.ephemeral_cluster() as cluster:
            postgres.bootstrap(cluster.url, seed=False)
            with connect(cluster.admin_url) as conn:  # the data set is loaded as the superuser
                server = conn.execute("select version()").fetchone()
                raw["server_version"] = str(server[0]) if server else "?"
                ds = dataset.load(
                    conn,
                    orgs=args.orgs,
                    invoices=args.invoices,
                    clients_per_org=args.clients_per_org,
                    large_share=args.large_share,
                    item_invoices=args.items_invoices,
                    existing_items=args.existing_items,
                )
                log(ds.describe())
                sections.append("## Data set\n\n" + ds.describe())
                raw["dataset"] = {"timings": ds.timings, "counts": ds.counts}

                if "rls" in args.only:
                    rres = rls.run(
                        conn, ds, rounds=args.rls_rounds, candidates=not args.no_candidates
                    )
                    text = rres.render_budget() + "\n\n" + rres.render()
                    print("\n## Budget 2: RLS list query\n\n" + text + "\n")
                    plans = "\n\n".join(
                        f"### {name}\n\n```\n{plan}\n```" for name, plan in rres.plans.items()
                    )
                    sections.append("## Budget 2: RLS list query\n\n" + text)
                    sections.append("## Plans (EXPLAIN ANALYZE, BUFFERS)\n\n" + plans)
                    raw["rls"] = {
                        name: {
                            "execution_ms": s.execution,
                            "planning_ms": s.planning,
                            "client_ms": s.client,
                        }
                        for name, s in rres.series.items()
                    }
                    raw["rls_plans"] = rres.plans
                    for name, label in rls.BUDGET_CHECKS:
                        verdicts.append((f"2 rls {label}", rres.passed(name)))

                if "items" in args.only:
                    variants = list(items.VARIANTS)
                    ires = items.run(
                        conn,
                        cluster.url,
                        invoices=args.items_invoices,
                        per_invoice=args.items_per_invoice,
                        reps=args.items_reps,
                        seed_reps=args.seed_reps,
                        diagnostics=not args.no_diagnostics,
                        modes=args.modes,
                        variants=variants,
                    )
                    text = ires.render()
                    print("\n## Budget 3: inserting invoice items\n\n" + text + "\n")
                    sections.append("## Budget 3: inserting invoice items\n\n" + text)
                    if ires.diagnostics:
                        diag = ires.render_diagnostics()
                        print(diag)
                        sections.append("## Items: where the time goes\n\n" + diag)
                        raw["items_nested_plans"] = {
                            k: d.nested_plans for k, d in ires.diagnostics.items()
                        }
                    raw["items"] = {f"{m}/{n}": t for (m, n), t in ires.times.items()}
                    for mode in args.modes:
                        verdicts.append((f"3 items {mode} ≤ 2x", ires.passed(mode)))

    if "stack" in args.only:
        # The local stack's budgets (make dev, test stack, REST throughput vs psycopg);
        # it prints its own JSON report and verdicts.
        code = stack_bench.main(["--seconds", "6" if args.quick else "10"])
        verdicts.append(("stack (make dev, test stack, REST throughput)", code == 0))

    if "api" in args.only:
        # The HTTP API's budgets (import cost per function, warm latency, handler overhead).
        runs = ["--import-runs", "3", "--calls", "50"] if args.quick else []
        code = api_bench.main(runs)
        verdicts.append(("api (imports, latency, handler overhead)", code == 0))

    if "timeouts" in args.only:
        # Every heavy RPC at its largest input against the statement timeout (issue 13);
        # prints its own table; budget p95 <= 4 s per call.
        sizes = ["--invoices", str(args.invoices), "--orgs", str(args.orgs)]
        code = timeouts_bench.main([*sizes, "--out", str(args.out)])
        verdicts.append(("timeouts (every heavy RPC p95 ≤ 4 s)", code == 0))

    elapsed = time.perf_counter() - started
    summary = "\n".join(f"- {label}: {'PASS' if ok else 'FAIL'}" for label, ok in verdicts)
    footer = (
        f"{command.strip()}\nmachine: {machine.nproc} CPUs, {machine.cpu_model},"
        f" {machine.postgres_binary}; load average {machine.loadavg_start} at start,"
        f" {loadavg()} at end; {elapsed:.0f} s in all"
    )
    print("## Verdicts\n\n" + summary + "\n\n" + footer)
    args.out.mkdir(parents=True, exist_ok=True)
    header = f"# Benchmark run {machine.date}\n\n```\n{footer}\n{machine.memory}\n```\n"
    (args.out / "results.md").write_text(
        header + "\n\n".join(sections) + "\n\n## Verdicts\n\n" + summary + "\n", encoding="utf-8"
    )
    raw["elapsed_s"] = elapsed
    raw["loadavg_end"] = loadavg()
    (args.out / "results.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
    log(f"written {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
