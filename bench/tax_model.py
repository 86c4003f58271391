"""Issue 19's budget for the tax model: creating an invoice of 20 lines in 3 rates, and
reading it back, no slower than 1.10x before the tax model.

    .venv/bin/python -m bench.tax_model [--calls 200]          # this checkout
    .venv/bin/python -m bench.tax_model --compare BEFORE AFTER  # two checkouts, one run

Through ``handler(event, context)`` in process against the local stack (as bench.api):
``POST /api/invoices`` (20 lines; with the tax model 3 rates: the invoice's 19 %, 7 % and
a reverse-charge line; a checkout without it takes 20 plain lines, all it can) and
``GET /api/invoices/{id}`` of one such invoice, ``--calls`` calls each after 20 warm-up
calls. ``--compare`` runs this file in each checkout in turn (its own code, migrations and
stack), alternating BEFORE and AFTER ``--rounds`` times, and prints each route's median
and p95 and the ratio AFTER / BEFORE of the medians over all rounds.

Beside the wall time, the CPU time a call costs: this process's (the handler and the
in-process local stack: gateway, REST emulator) plus the database server's processes
(``/proc/<pid>/stat``, every process of the cluster), over all the calls of a route,
divided by their number. On a shared machine (2 CPUs, load averages of 8-10 while
other work runs) the wall time of a call is several times its CPU time and swings with
the load; the CPU time is what the change costs, and what the verdict uses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEED_USER = "d0000000-0000-4000-8000-000000000001"
TICK = os.sysconf("SC_CLK_TCK")


def _server_cpu_ms(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK * 1000


def _own_cpu_ms() -> float:
    return time.process_time() * 1000


SEED_ORG_CLIENT = "c0000000-0000-4000-8000-000000000001"


def _lines(with_tax: bool) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for n in range(20):
        line: dict[str, Any] = {
            "description": f"Line {n}",
            "quantity": str(1 + n % 3),
            "rate": f"{17 + n}.35",
        }
        if with_tax and n % 3 == 1:
            line["tax_rate"] = "7"
        elif with_tax and n % 3 == 2:
            line.update(vat_category="AE", tax_exemption_reason_code="VATEX-EU-AE")
        lines.append(line)
    return lines


def measure(calls: int) -> dict[str, list[float]]:
    import httpx  # noqa: PLC0415
    import psycopg  # noqa: PLC0415

    from bench.common import user_token  # noqa: PLC0415
    from devstack import postgres  # noqa: PLC0415
    from devstack.functions import FunctionHost, http_event, load_functions  # noqa: PLC0415
    from devstack.stack import serve  # noqa: PLC0415
    from shared import db  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    try:
        from shared.models.invoices import LineTax  # noqa: F401, PLC0415

        with_tax = True
    except ImportError:
        with_tax = False
    results: dict[str, list[float]] = {}
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=True)
        gateway = serve(cluster.url)
        try:
            keys = gateway.config.keys
            os.environ.update(
                {
                    "SUPABASE_URL": gateway.url,
                    "SUPABASE_ANON_KEY": keys.anon_key,
                    "SUPABASE_JWT_SECRET": keys.jwt_secret,
                    "LOG_LEVEL": "WARNING",
                    "RATE_LIMIT_PER_WINDOW": "1000000",
                }
            )
            get_settings.cache_clear()
            db._Instance.http = httpx.Client(timeout=10)
            token = user_token(keys.jwt_secret, SEED_USER, 7200)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            host = FunctionHost(load_functions())
            body = json.dumps(
                {"client_id": SEED_ORG_CLIENT, "tax_rate": "19", "items": _lines(with_tax)}
            ).encode()
            spec, params, _ = host.match("POST", "/api/invoices")
            assert spec is not None
            post = http_event(spec, "POST", "/api/invoices", "", headers, body, params)
            handler = host.handler(spec)
            made: list[str] = []

            def timed(event: dict[str, Any], call: Any) -> float:
                started = time.perf_counter()
                result = call(event, None)
                elapsed = (time.perf_counter() - started) * 1000
                if result["statusCode"] >= 400:
                    raise RuntimeError(f"{result['statusCode']} {result['body'][:300]}")
                if event is post:
                    made.append(json.loads(result["body"])["id"])
                return elapsed

            def run(event: dict[str, Any], call: Any, count: int) -> list[float]:
                return [timed(event, call) for _ in range(count)]

            def server_pids() -> list[int]:
                with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
                    rows = conn.execute("select pid from pg_stat_activity").fetchall()
                return [int(row[0]) for row in rows]

            def cpu_run(label: str, event: dict[str, Any], call: Any) -> None:
                host._pool.submit(run, event, call, 20).result()  # warm, connections open
                pids = server_pids()
                own, server = _own_cpu_ms(), _server_cpu_ms(pids)
                results[label] = host._pool.submit(run, event, call, calls).result()
                spent = _own_cpu_ms() - own + _server_cpu_ms(pids) - server
                results[f"_cpu {label}"] = [spent / calls]

            cpu_run("create 20 lines", post, handler)
            path = f"/api/invoices/{made[0]}"
            spec, params, _ = host.match("GET", path)
            assert spec is not None
            get = http_event(spec, "GET", path, "", headers, b"", params)
            cpu_run("get it", get, host.handler(spec))
            results["_with_tax"] = [1.0 if with_tax else 0.0]
            host.close()
        finally:
            gateway.stop()
    return results


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def compare(before: Path, after: Path, calls: int, rounds: int) -> int:
    here = Path(__file__).resolve()
    runs: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for _ in range(rounds):
        for name, root in (("before", before), ("after", after)):
            out = subprocess.run(
                [sys.executable, str(here), "--calls", str(calls), "--json"],
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(root)},
                capture_output=True,
                text=True,
                check=True,
            )
            got = json.loads(out.stdout.strip().splitlines()[-1])
            for route, values in got.items():
                runs[name].setdefault(route, []).extend(values)
    print(f"checkouts: before {before}, after {after}; {rounds} rounds x {calls} calls")
    print(
        f"tax model in after: {bool(runs['after']['_with_tax'][0])}, before: "
        f"{bool(runs['before']['_with_tax'][0])}"
    )
    worst = 0.0
    for route in ("create 20 lines", "get it"):
        b, a = runs["before"][route], runs["after"][route]
        ratio = statistics.median(a) / statistics.median(b)
        print(
            f"{route}: wall before median {statistics.median(b):.2f} ms p95 {_p95(b):.2f} ms; "
            f"after median {statistics.median(a):.2f} ms p95 {_p95(a):.2f} ms; "
            f"ratio {ratio:.3f}"
        )
        cb, ca = runs["before"][f"_cpu {route}"], runs["after"][f"_cpu {route}"]
        cpu_ratio = statistics.mean(ca) / statistics.mean(cb)
        worst = max(worst, cpu_ratio)
        each_b = ", ".join(f"{v:.2f}" for v in cb)
        each_a = ", ".join(f"{v:.2f}" for v in ca)
        print(
            f"{route}: CPU before {statistics.mean(cb):.2f} ms ({each_b}); "
            f"after {statistics.mean(ca):.2f} ms ({each_a}); ratio {cpu_ratio:.3f}"
        )
    print(f"budget 1.10x: {'met' if worst <= 1.10 else 'NOT met'} (worst {worst:.3f})")
    return 0 if worst <= 1.10 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    if args.compare:
        return compare(args.compare[0], args.compare[1], args.calls, args.rounds)
    results = measure(args.calls)
    if args.json:
        print(json.dumps(results))
    else:
        for route, values in results.items():
            if not route.startswith("_"):
                print(
                    f"{route}: median {statistics.median(values):.2f} ms p95 {_p95(values):.2f} ms"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
