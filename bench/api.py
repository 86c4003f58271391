"""The HTTP API's budgets (issue 4), side by side in one run:

    .venv/bin/python -m bench.api [--import-runs 7] [--calls 200] [--python PATH]

1. Import cost (cold start): each function module of serverless.yml imported in a fresh
   interpreter, ``--import-runs`` times, interleaved with the framework floor
   (``import fastapi, mangum, pydantic``) in the same rounds; median per function and its
   ratio to the floor's median. Budget: every function ≤ 1.5x the floor. By default the
   interpreter is a runtime-only virtualenv (``pip install .``, no dev tools), built once
   under ``bench/out/runtime-venv``: what a Lambda package holds. ``--python`` picks another.
2. Warm latency through ``handler(event, context)`` in process, against the local stack
   with a tenant of 10,000 invoices (``bench.dataset``: 5 organizations, 50,000 invoices,
   organization 1 holding 10,000, with payments for its paid invoices): ``--calls`` calls
   per route after 20 warm-up calls. Budgets: p95 ≤ 50 ms for list/get routes, ≤ 100 ms for
   dashboard metrics and reports. The baseline beside each route: its data calls straight
   to PostgREST over the same keep-alive connection (what the handler cannot go below).
3. The handler's own overhead: the same calls with the data layer answered from memory
   (the PostgREST responses of step 2 recorded and replayed through an httpx transport).
   Budget ≤ 3 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import dataset
from bench.common import (
    OUT_DIR,
    Machine,
    Summary,
    connect,
    fmt_ms,
    fmt_ratio,
    log,
    table,
    user_token,
)
from devstack import postgres
from devstack.functions import ROOT, FunctionHost, FunctionSpec, http_event, load_functions
from devstack.stack import serve
from shared import db
from shared.settings import get_settings

FLOOR = "fastapi, mangum, pydantic"
# Wall time and CPU time (user + system) of the import alone. CPU time is what the verdict
# uses: on a shared 2-CPU machine the wall time of a 400 ms import includes however long
# the process waited for a CPU, which says nothing about the code.
_PROBE = (
    "import time; w = time.perf_counter(); c = time.process_time(); import {m}; "
    "print((time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000)"
)


def runtime_python() -> Path:
    """A virtualenv with only the runtime dependencies (as a Lambda package), cached by
    the checksum of pyproject.toml."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = OUT_DIR / "runtime-venv"
    python = venv / "bin" / "python"
    stamp = venv / f".built-{digest}"
    if not stamp.exists():
        log("building the runtime-only virtualenv (once per pyproject.toml)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--upgrade",
                "pip",
            ],
            check=False,
        )
        reqs = subprocess.run(
            [
                sys.executable,
                "-c",
                "import tomllib,sys; print('\\n'.join(tomllib.load(open(sys.argv[1],'rb'))"
                "['project']['dependencies']))",
                str(ROOT / "pyproject.toml"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *reqs], check=True)
        stamp.touch()
    return python


def _import_ms(python: Path, module: str) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "AWS_"))}
    env["PYTHONPATH"] = str(ROOT)
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


Timings = list[tuple[float, float]]  # (wall ms, CPU ms) per fresh process


def measure_imports(python: Path, runs: int) -> tuple[Timings, dict[str, Timings]]:
    specs = [spec for spec in load_functions() if spec.source.is_file()]
    floor: Timings = []
    per: dict[str, Timings] = {s.name: [] for s in specs}
    for spec in specs:  # compile every module's bytecode once, as a deployed package has
        _import_ms(python, spec.module)
    _import_ms(python, FLOOR)
    for round_ in range(runs):
        log(f"imports: round {round_ + 1}/{runs}")
        for spec in specs:
            floor.append(_import_ms(python, FLOOR))
            per[spec.name].append(_import_ms(python, spec.module))
    return floor, per


# ---------------------------------------------------------------------------------------
# Warm latency


PAYMENTS_SQL = [
    "set session_replication_role = replica",
    """insert into public.payments (organization_id, invoice_id, currency, amount, applied_amount,
                                 payment_date, payment_method, created_by)
    select i.organization_id, i.id, i.currency, i.amount_paid, i.amount_paid, (i.paid_at)::date,
           'bank_transfer', i.created_by
    from public.invoices i
    where i.organization_id = %(org)s and i.status = 'paid' and i.amount_paid > 0""",
    "set session_replication_role = origin",
    "analyze public.payments",
]


@dataclass
class Route:
    label: str
    method: str
    path: str
    query: str
    budget_ms: float


def routes(ids: dict[str, str]) -> list[Route]:
    r = [
        Route("auth me", "GET", "/api/auth/me", "", 50),
        Route("clients list", "GET", "/api/clients", "", 50),
        Route("clients list q", "GET", "/api/clients", "q=client%201&sort=-total_billed", 50),
        Route("clients get", "GET", f"/api/clients/{ids['client']}", "", 50),
        Route("invoices list", "GET", "/api/invoices", "", 50),
        Route(
            "invoices list filtered",
            "GET",
            "/api/invoices",
            "status=sent,overdue&issue_date_from=2023-06-01&sort=-total",
            50,
        ),
        Route("invoices list page 40", "GET", "/api/invoices", "page=40&page_size=100", 50),
        Route("invoices get", "GET", f"/api/invoices/{ids['invoice']}", "", 50),
        Route("payments list", "GET", "/api/payments", "", 50),
        Route("payments get", "GET", f"/api/payments/{ids['payment']}", "", 50),
        Route("settings get", "GET", "/api/settings", "", 50),
        Route("dashboard recent invoices", "GET", "/api/dashboard/recent-invoices", "", 50),
        Route("dashboard recent activities", "GET", "/api/dashboard/recent-activities", "", 50),
        Route("dashboard metrics", "GET", "/api/dashboard/metrics", "", 100),
        Route("dashboard revenue chart", "GET", "/api/dashboard/revenue-chart", "months=12", 100),
        Route(
            "reports overview", "GET", "/api/reports/overview", "from=2023-01-01&to=2025-12-31", 100
        ),
        Route(
            "reports revenue",
            "GET",
            "/api/reports/revenue",
            "from=2023-01-01&to=2025-12-31&group_by=month",
            100,
        ),
        Route(
            "reports payment status",
            "GET",
            "/api/reports/payment-status",
            "from=2023-01-01&to=2025-12-31",
            100,
        ),
        Route(
            "reports client performance",
            "GET",
            "/api/reports/client-performance",
            "from=2023-01-01&to=2025-12-31",
            100,
        ),
    ]
    return r


class Recorder(httpx.BaseTransport):
    """Passes requests to the network and remembers each response by method and URL."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: dict[tuple[str, str, bytes], tuple[int, list[tuple[bytes, bytes]], bytes]] = {}
        self.log: list[tuple[str, str, bytes]] = []
        self.replaying = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, str(request.url), request.content)
        self.log.append(key)
        if self.replaying:
            status, headers, body = self.seen[key]
            return httpx.Response(status, headers=headers, content=body)
        response = self.inner.handle_request(request)
        body = response.read()
        self.seen[key] = (response.status_code, list(response.headers.raw), body)
        return httpx.Response(response.status_code, headers=response.headers.raw, content=body)


def _time_calls(
    host: FunctionHost, spec: FunctionSpec, event: dict[str, Any], calls: int, warmup: int = 20
) -> list[float]:
    handler = host.handler(spec)
    times: list[float] = []

    def one() -> float:
        started = time.perf_counter()
        result = handler(event, None)
        elapsed = (time.perf_counter() - started) * 1000
        if result["statusCode"] >= 400:
            raise RuntimeError(f"{spec.name}: {result['statusCode']} {result['body'][:300]}")
        return elapsed

    def run() -> None:
        for _ in range(warmup):
            one()
        for _ in range(calls):
            times.append(one())

    host._pool.submit(run).result()  # on a worker thread with its event loop, as Lambda
    return times


def measure_latency(calls: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:  # the data set is loaded as the superuser
            dataset.load(
                conn,
                orgs=5,
                invoices=50_000,
                clients_per_org=50,
                large_share=0.2,
                item_invoices=50,
                existing_items=3,
            )
            row = conn.execute(
                "select organization_id::text, user_id::text from bench.orgs where n = 1"
            ).fetchone()
            assert row is not None
            org, uid = row
            for statement in PAYMENTS_SQL:
                conn.execute(statement, {"org": org} if "%(org)s" in statement else None)
            counts = conn.execute(
                "select (select count(*) from public.invoices where organization_id = %(o)s),"
                " (select count(*) from public.payments where organization_id = %(o)s)",
                {"o": org},
            ).fetchone()
            ids_row = conn.execute(
                "select (select id::text from public.clients where organization_id = %(o)s"
                "  order by id limit 1),"
                " (select id::text from public.invoices where organization_id = %(o)s"
                "  and status = 'paid' order by id limit 1),"
                " (select id::text from public.payments where organization_id = %(o)s"
                "  order by id limit 1)",
                {"o": org},
            ).fetchone()
            assert ids_row is not None
            assert counts is not None
            ids = {"client": ids_row[0], "invoice": ids_row[1], "payment": ids_row[2]}
            log(f"tenant: {counts[0]} invoices, {counts[1]} payments")
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
            recorder = Recorder()
            db._Instance.http = httpx.Client(transport=recorder, timeout=10)
            token = user_token(keys.jwt_secret, uid, 7200)
            host = FunctionHost(load_functions())
            for route in routes(ids):
                spec, params, _ = host.match(route.method, route.path)
                assert spec is not None, route.path
                event = http_event(
                    spec,
                    route.method,
                    route.path,
                    route.query,
                    {"authorization": f"Bearer {token}"},
                    b"",
                    params,
                )
                mark = len(recorder.log)
                _time_calls(host, spec, event, 1, warmup=0)
                data_calls = recorder.log[mark:]
                live = _time_calls(host, spec, event, calls)
                # The baseline: the same PostgREST calls alone, over a keep-alive connection.
                base: list[float] = []
                with httpx.Client(timeout=10) as direct:
                    headers = {
                        "apikey": keys.anon_key,
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    }
                    for _ in range(calls):
                        started = time.perf_counter()
                        for method, url, body in data_calls:
                            direct.request(method, url, content=body or None, headers=headers)
                        base.append((time.perf_counter() - started) * 1000)
                recorder.replaying = True
                replay = _time_calls(host, spec, event, calls)
                recorder.replaying = False
                results[route.label] = {
                    "live": live,
                    "rest": base,
                    "memory": replay,
                    "budget": route.budget_ms,
                }
                log(
                    f"{route.label}: p95 {Summary.of(live).p95:.1f} ms, "
                    f"memory median {statistics.median(replay):.2f} ms"
                )
            host.close()
        finally:
            gateway.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--python", type=Path, default=None)
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(exist_ok=True)
    machine = Machine.describe()
    log(f"bench.api — {machine.nproc} CPUs, load {machine.loadavg_start}")
    out: list[str] = []
    verdicts: list[bool] = []
    if not args.skip_imports:
        python = args.python or runtime_python()
        floor, per = measure_imports(python, args.import_runs)
        floor_wall = statistics.median(w for w, _ in floor)
        floor_cpu = statistics.median(c for _, c in floor)
        rows = []
        for name, values in per.items():
            wall = statistics.median(w for w, _ in values)
            cpu = statistics.median(c for _, c in values)
            best = min(c for _, c in values) / min(c for _, c in floor)
            ok = cpu <= 1.5 * floor_cpu
            verdicts.append(ok)
            rows.append(
                [
                    name,
                    fmt_ms(cpu),
                    fmt_ratio(cpu / floor_cpu),
                    fmt_ms(wall),
                    fmt_ratio(wall / floor_wall),
                    fmt_ratio(best),
                    "PASS" if ok else "FAIL",
                ]
            )
        out.append(
            f"### Import cost ({python}), median of {args.import_runs} fresh processes each\n\n"
            f"floor `import {FLOOR}`: median CPU {fmt_ms(floor_cpu)} ms, wall"
            f" {fmt_ms(floor_wall)} ms (interleaved with the functions, same rounds)\n\n"
            + table(
                [
                    "function",
                    "CPU ms",
                    "CPU vs floor",
                    "wall ms",
                    "wall vs floor",
                    "fastest vs fastest",
                    "CPU ≤ 1.5x",
                ],
                rows,
            )
        )
        print("\n" + out[-1] + "\n", flush=True)
    if not args.skip_latency:
        lat = measure_latency(args.calls)
        rows = []
        for label, r in lat.items():
            live, rest, mem = Summary.of(r["live"]), Summary.of(r["rest"]), Summary.of(r["memory"])
            ok = live.p95 <= r["budget"] and mem.median <= 3.0
            verdicts.append(ok)
            rows.append(
                [
                    label,
                    fmt_ms(live.median),
                    fmt_ms(live.p95),
                    fmt_ms(rest.p95),
                    fmt_ms(mem.median),
                    fmt_ms(mem.p95),
                    f"≤ {r['budget']:.0f}",
                    "PASS" if ok else "FAIL",
                ]
            )
        out.append(
            f"### Warm latency through the handler, {args.calls} calls per route\n\n"
            + table(
                [
                    "route",
                    "median ms",
                    "p95 ms",
                    "REST-only p95 ms",
                    "memory median ms",
                    "memory p95 ms",
                    "p95 budget",
                    "verdict",
                ],
                rows,
            )
        )
    text = "\n\n".join(out)
    print("\n" + text)
    (OUT_DIR / "api.md").write_text(text + "\n")
    (OUT_DIR / "api.json").write_text(json.dumps({"machine": machine.__dict__}, default=str))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
