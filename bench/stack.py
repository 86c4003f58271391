"""The local stack's budgets (issue 3), side by side in one run:

    .venv/bin/python -m bench.stack [--seconds 10] [--clients 4] [--starts 3]

1. ``make dev`` from a warm venv to "ready" (≤ 10 s): ``python -m devstack`` in a fresh
   home (initdb, platform SQL, migrations, seed, moto, gateway), then again on the same
   data (a warm restart), each until it prints "ready"; then Ctrl-C, which must stop it.
2. The test stack ready (≤ 5 s): ephemeral cluster, bootstrap, gateway answering.
3. REST throughput (≥ 300 req/s with 4 clients, p95 ≤ 20 ms): ``--clients``
   load-generator *processes* (so they do not share the server's GIL), each sending back to
   back over a keep-alive connection for ``--seconds``, as a signed-in user:

       GET /rest/v1/invoices?select=id,invoice_number,status,total_amount,due_date
           &status=eq.draft&order=created_at.desc&limit=25      Prefer: count=exact

   and, as the baseline, the same work straight through psycopg with the same number of
   processes: a transaction that sets the role and claims as PostgREST does, runs the page
   query and the count, commits. The ratio is the stack's own overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg

from devstack import pgtap, postgres
from devstack.postgres import ROOT, Database, free_port, test_database
from devstack.stack import serve

PATH = (
    "/rest/v1/invoices?select=id,invoice_number,status,total_amount,due_date"
    "&status=eq.draft&order=created_at.desc&limit=25"
)


def _worker(url: str, headers: dict[str, str], seconds: float, start_at: float, out: Any) -> None:
    latencies: list[float] = []
    errors = 0
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        client.get(PATH)  # connect and warm up
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = start_at + seconds
        while time.time() < deadline:
            t0 = time.perf_counter()
            response = client.get(PATH)
            latencies.append(time.perf_counter() - t0)
            if response.status_code not in {200, 206} or len(response.json()) != 25:
                errors += 1
    out.put((latencies, errors))


BASELINE_PAGE = (
    "select coalesce(json_agg(t), '[]')::text from ("
    " select id, invoice_number, status, total_amount, due_date from public.invoices"
    " where status = 'draft' order by created_at desc limit 25) t"
)
BASELINE_COUNT = "select count(*) from public.invoices where status = 'draft'"
BASELINE_SETUP = (
    "select set_config('role', 'authenticated', true),"
    " set_config('request.jwt.claims', %s, true),"
    " set_config('request.method', 'GET', true),"
    " set_config('request.path', '/invoices', true)"
)


def _baseline_worker(url: str, claims: str, seconds: float, start_at: float, out: Any) -> None:
    """The same page and count straight through psycopg, in PostgREST's transaction shape."""
    latencies: list[float] = []
    errors = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = start_at + seconds
        while time.time() < deadline:
            t0 = time.perf_counter()
            with conn.transaction():
                conn.execute("set transaction read only")
                conn.execute(BASELINE_SETUP, (claims,))
                page = conn.execute(BASELINE_PAGE).fetchone()
                conn.execute(BASELINE_COUNT).fetchone()
            latencies.append(time.perf_counter() - t0)
            if page is None or len(json.loads(str(page[0]))) != 25:
                errors += 1
    out.put((latencies, errors))


def _load(target: Any, args: tuple[Any, ...], clients: int, seconds: float) -> dict[str, Any]:
    """Runs ``clients`` processes of ``target`` together; requests/s and percentiles."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 3
    workers = [
        ctx.Process(target=target, args=(*args, seconds, start_at, queue)) for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    ms = sorted(lat * 1000 for lats, _ in results for lat in lats)
    quantiles = statistics.quantiles(ms, n=100)
    return {
        "requests": len(ms),
        "errors": sum(err for _, err in results),
        "requests_per_second": round(len(ms) / seconds, 1),
        "p50_ms": round(quantiles[49], 2),
        "p95_ms": round(quantiles[94], 2),
        "p99_ms": round(quantiles[98], 2),
        "max_ms": round(ms[-1], 2),
    }


def _make_dev_start(home: Path) -> float:
    """Seconds from launching ``python -m devstack`` to its "ready" line; then Ctrl-C."""
    ports = [str(free_port()) for _ in range(3)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack",
            "--home",
            str(home),
            "--db-port",
            ports[0],
            "--api-port",
            ports[1],
            "--aws-port",
            ports[2],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    elapsed = math.nan
    for line in proc.stdout:
        if line.startswith("ready in"):
            elapsed = time.perf_counter() - t0
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[0]
    if proc.returncode != 0 or "stopped" not in rest:
        raise RuntimeError(f"make dev did not stop cleanly ({proc.returncode}):\n{rest}")
    return elapsed


def measure_make_dev(starts: int) -> dict[str, list[float]]:
    fresh: list[float] = []
    warm: list[float] = []
    for _ in range(starts):
        base = Path(tempfile.mkdtemp(prefix="invoiceflow-bench-dev-"))
        base.chmod(0o755)  # the postgres system user must reach it
        try:
            fresh.append(_make_dev_start(base / "home"))
            warm.append(_make_dev_start(base / "home"))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    return {"fresh_s": fresh, "warm_restart_s": warm}


def measure_test_stack(starts: int) -> list[float]:
    """Seconds until a new ephemeral stack answers its first authenticated REST request."""
    times: list[float] = []
    for _ in range(starts):
        t0 = time.perf_counter()
        with postgres.ephemeral_cluster() as cluster:
            postgres.bootstrap(cluster.url, seed=False)
            server = serve(cluster.url)
            try:
                key = server.config.keys.service_role_key
                response = httpx.get(
                    server.url + "/rest/v1/invoices?limit=1",
                    headers={"apikey": key, "Authorization": f"Bearer {key}"},
                )
                response.raise_for_status()
                times.append(time.perf_counter() - t0)
            finally:
                server.stop()
    return times


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    with test_database() as db:  # DATABASE_URL when given, else an ephemeral cluster
        setup = pgtap.run_file(db.url, pgtap.SETUP_FILE)
        if not setup.ok:
            raise RuntimeError(setup.explain())
        yield db


def _seed(db: Database) -> str:
    with psycopg.connect(db.url, autocommit=True) as conn:
        uid = conn.execute("select tests.create_supabase_user('bench-user')::text").fetchone()
        org = conn.execute("select tests.personal_org('bench-user')::text").fetchone()
        assert uid is not None
        assert org is not None
        client = conn.execute(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, 'Bench client', 'USD') returning id",
            (org[0],),
        ).fetchone()
        assert client is not None
        conn.execute(
            "insert into public.invoices (organization_id, client_id, due_date)"
            " select %s, %s, current_date + 30 from generate_series(1, 300)",
            (org[0], client[0]),
        )
        conn.execute("analyze")
        return str(uid[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--starts", type=int, default=3, help="make dev / test stack starts")
    args = parser.parse_args(argv)

    dev = measure_make_dev(args.starts)
    stack_ready = measure_test_stack(args.starts)
    with _database() as db:
        uid = _seed(db)
        server = serve(db.url)
        try:
            now = int(time.time())
            claims = {
                "sub": uid,
                "role": "authenticated",
                "aud": "authenticated",
                "iat": now,
                "exp": now + 3600,
            }
            token = jwt.encode(claims, server.config.keys.jwt_secret, algorithm="HS256")
            headers = {
                "apikey": server.config.keys.anon_key,
                "Authorization": f"Bearer {token}",
                "Prefer": "count=exact",
            }
            # Alternate the two, twice, so drift in the machine's load hits both alike.
            runs: dict[str, list[dict[str, Any]]] = {"stack": [], "psycopg": []}
            for _ in range(2):
                runs["stack"].append(
                    _load(_worker, (server.url, headers), args.clients, args.seconds / 2)
                )
                runs["psycopg"].append(
                    _load(
                        _baseline_worker,
                        (db.url, json.dumps(claims)),
                        args.clients,
                        args.seconds / 2,
                    )
                )
        finally:
            server.stop()

    def best(name: str) -> dict[str, Any]:
        return max(runs[name], key=lambda r: float(r["requests_per_second"]))

    stack, direct = best("stack"), best("psycopg")
    report = {
        "make_dev_fresh_s": [round(t, 2) for t in dev["fresh_s"]],
        "make_dev_warm_restart_s": [round(t, 2) for t in dev["warm_restart_s"]],
        "test_stack_ready_s": [round(t, 2) for t in stack_ready],
        "clients": args.clients,
        "rest_through_stack": stack,
        "same_query_psycopg": direct,
        "throughput_ratio_psycopg_over_stack": round(
            float(direct["requests_per_second"]) / float(stack["requests_per_second"]), 2
        ),
        "all_runs": runs,
    }
    print(json.dumps(report, indent=2))
    checks = {
        "make dev ready <= 10 s": max(dev["fresh_s"] + dev["warm_restart_s"]) <= 10,
        "test stack ready <= 5 s": max(stack_ready) <= 5,
        "REST >= 300 req/s": float(stack["requests_per_second"]) >= 300,
        "REST p95 <= 20 ms": float(stack["p95_ms"]) <= 20,
        "no errors": all(int(r["errors"]) == 0 for rs in runs.values() for r in rs),
    }
    for label, ok in checks.items():
        print(f"{label}: {'PASS' if ok else 'FAIL'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
