"""Cold start of the functions of two checkouts, side by side (issue 15: functions by area):

    .venv/bin/python -m bench.function_groups BEFORE [AFTER] [--runs 5] [--python PATH]
        [--only NAME ...]

BEFORE and AFTER are checkouts (AFTER defaults to this one), e.g. a clone at the commit
before a regrouping of serverless.yml's functions. Each function module of each one's
serverless.yml is imported in a fresh interpreter with bench.api's probe (CPU and wall time
of the import alone; the runtime-only virtualenv of bench.api unless ``--python``), the two
checkouts' functions and the framework floor (``import fastapi, mangum, pydantic``)
interleaved round by round, so that the machine's load falls on both alike. For each
function of AFTER: its median CPU and wall, and the medians of the BEFORE functions that
served its routes (or of the function of the same name, for the jobs). The two sides take
turns going first, round by round (a drift of the load over a round falls on both alike);
``--only`` measures the named functions of AFTER (and BEFORE's that served their routes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
from pathlib import Path

from bench.api import _PROBE, FLOOR, runtime_python
from bench.common import OUT_DIR, Machine, fmt_ms, fmt_ratio, log, table
from devstack.functions import ROOT, FunctionSpec, load_functions

Timing = tuple[float, float]  # (wall ms, CPU ms) of one fresh process


def _import_ms(python: Path, root: Path, module: str) -> Timing:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "AWS_"))}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    out = subprocess.run(
        [str(python), "-c", _PROBE.format(m=module)],
        capture_output=True,
        text=True,
        check=True,
        cwd=OUT_DIR,
        env=env,
    )
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _median(values: list[Timing]) -> Timing:
    return statistics.median(w for w, _ in values), statistics.median(c for _, c in values)


def _served_before(spec: FunctionSpec, before: list[FunctionSpec]) -> list[FunctionSpec]:
    if spec.routes:
        return [b for b in before if b.routes and set(b.routes) <= set(spec.routes)]
    return [b for b in before if b.name == spec.name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=ROOT)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", type=Path, default=None)
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(exist_ok=True)
    python = args.python or runtime_python()
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}
    specs = {
        side: [
            s
            for s in load_functions(root / "serverless.yml")
            if (root / s.source.relative_to(ROOT)).is_file()
        ]
        for side, root in roots.items()
    }
    if args.only:
        specs["after"] = [s for s in specs["after"] if s.name in args.only]
        specs["before"] = [
            b
            for b in specs["before"]
            if any(b in _served_before(s, specs["before"]) for s in specs["after"])
        ]
    machine = Machine.describe()
    log(f"bench.function_groups — {machine.nproc} CPUs, load {machine.loadavg_start}")
    timings: dict[tuple[str, str], list[Timing]] = {}
    floor: list[Timing] = []
    for side, root in roots.items():  # compile every module's bytecode once
        for spec in specs[side]:
            _import_ms(python, root, spec.module)
    _import_ms(python, ROOT, FLOOR)
    for round_ in range(args.runs):
        log(f"round {round_ + 1}/{args.runs}")
        turn = list(roots.items())
        for side, root in turn if round_ % 2 == 0 else reversed(turn):
            for spec in specs[side]:
                floor.append(_import_ms(python, ROOT, FLOOR))
                timings.setdefault((side, spec.name), []).append(
                    _import_ms(python, root, spec.module)
                )
    floor_wall, floor_cpu = _median(floor)
    rows = []
    for spec in specs["after"]:
        wall, cpu = _median(timings[("after", spec.name)])
        was = [_median(timings[("before", b.name)]) for b in _served_before(spec, specs["before"])]
        was_cpu = sorted(c for _, c in was)
        before = (
            f"{fmt_ms(was_cpu[0])}-{fmt_ms(was_cpu[-1])} ({len(was)})"
            if len(was) > 1
            else (fmt_ms(was_cpu[0]) if was else "new")
        )
        rows.append(
            [
                spec.name,
                len(spec.routes),
                before,
                fmt_ms(cpu),
                fmt_ratio(cpu / floor_cpu),
                fmt_ms(wall),
            ]
        )
    print(
        f"\nfloor `import {FLOOR}`: median CPU {fmt_ms(floor_cpu)} ms, wall {fmt_ms(floor_wall)}"
        f" ms; {args.runs} rounds, load {machine.loadavg_start} at the start\n\n"
        + table(
            [
                "function (after)",
                "routes",
                "before: CPU ms (functions)",
                "after: CPU ms",
                "after vs floor",
                "after: wall ms",
            ],
            rows,
        )
        + "\n",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
