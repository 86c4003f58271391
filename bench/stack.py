"""Throughput of the REST server: a 25-row filtered, counted GET as a signed-in user.

    .venv/bin/python -m devstack.rest.bench [--seconds 10] [--clients 4]

Starts an ephemeral PostgreSQL (or uses ``DATABASE_URL``), bootstraps it, seeds one
organization with 300 invoices, serves REST alone on a uvicorn thread, then runs
``--clients`` load-generator *processes* (so they do not share the server's GIL), each
sending requests back to back over a keep-alive connection for ``--seconds``:

    GET /rest/v1/invoices?select=id,invoice_number,status,total_amount,due_date
        &status=eq.draft&order=created_at.desc&limit=25      Prefer: count=exact

Prints requests/s and latency percentiles; the budget is >= 300 req/s with p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import psycopg

from devstack import pgtap
from devstack.postgres import Database, test_database
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
    args = parser.parse_args(argv)
    with _database() as db:
        uid = _seed(db)
        server = serve(db.url)
        try:
            now = int(time.time())
            token = jwt.encode(
                {
                    "sub": uid,
                    "role": "authenticated",
                    "aud": "authenticated",
                    "iat": now,
                    "exp": now + 3600,
                },
                server.config.keys.jwt_secret,
                algorithm="HS256",
            )
            headers = {
                "apikey": server.config.keys.anon_key,
                "Authorization": f"Bearer {token}",
                "Prefer": "count=exact",
            }
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            start_at = time.time() + 3
            workers = [
                ctx.Process(
                    target=_worker, args=(server.url, headers, args.seconds, start_at, queue)
                )
                for _ in range(args.clients)
            ]
            for worker in workers:
                worker.start()
            results = [queue.get() for _ in workers]
            for worker in workers:
                worker.join()
        finally:
            server.stop()
    latencies = sorted(lat for lats, _ in results for lat in lats)
    errors = sum(err for _, err in results)
    ms = [lat * 1000 for lat in latencies]
    quantiles = statistics.quantiles(ms, n=100)
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "requests": len(ms),
        "errors": errors,
        "requests_per_second": round(len(ms) / args.seconds, 1),
        "p50_ms": round(quantiles[49], 2),
        "p95_ms": round(quantiles[94], 2),
        "p99_ms": round(quantiles[98], 2),
        "max_ms": round(ms[-1], 2),
    }
    print(json.dumps(report, indent=2))
    ok = report["requests_per_second"] >= 300 and report["p95_ms"] <= 20 and errors == 0
    print("budget (>= 300 req/s, p95 <= 20 ms):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
