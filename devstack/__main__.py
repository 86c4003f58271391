"""``python -m devstack`` (``make dev``): the persistent local stack, in the foreground.

PostgreSQL 15 on 127.0.0.1:54322 (Supabase CLI's port) with its data under
``.devstack/pgdata``: created, migrated and seeded on first start; later starts apply
only new migrations and keep the data. Ctrl-C stops it cleanly. ``--reset`` starts over.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import psycopg

from devstack.postgres import ROOT, ClusterError, bootstrap, has_platform, persistent_cluster

HOME = ROOT / ".devstack"
DB_PORT = 54322


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--reset", action="store_true", help="delete the local data first")
    parser.add_argument("--home", type=Path, default=HOME, help="where the local data lives")
    parser.add_argument("--db-port", type=int, default=DB_PORT)
    args = parser.parse_args(argv)

    started = time.monotonic()
    if args.reset and args.home.exists():
        with contextlib.suppress(ClusterError):
            persistent_cluster(args.home, args.db_port).stop()
        shutil.rmtree(args.home)
        print(f"removed {args.home}")

    cluster = persistent_cluster(args.home, args.db_port)
    with psycopg.connect(cluster.url) as conn:
        fresh = not has_platform(conn)
    ran = bootstrap(cluster.url, seed=fresh)
    env_file = args.home / ".env"
    env_file.write_text(f"DATABASE_URL={cluster.url}\n", encoding="utf-8")

    print(f"applied: {', '.join(ran) if ran else 'nothing new'}")
    print(f"PostgreSQL   {cluster.url}")
    print(f"environment  {env_file}")
    if fresh:
        print("demo login   demo@invoiceflow.local / invoiceflow-demo")
    print(f"ready in {time.monotonic() - started:.1f}s — Ctrl-C to stop")
    sys.stdout.flush()

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            time.sleep(0.2)
    finally:
        print("\nstopping…")
        cluster.stop()
        print("stopped; `make dev` finds the data again, `make dev-reset` starts over")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
