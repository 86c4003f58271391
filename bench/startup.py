"""Budget 1: a fresh cluster with the platform SQL and every migration, ready in ≤ 5 s.

Each run does what a test session does (``devstack.postgres.ephemeral_cluster`` then
``bootstrap``), step by step so that each step has its own figure: ``initdb`` into a new
temporary directory, ``pg_ctl start`` until a connection succeeds, then the platform SQL
and the migrations. Removing the cluster afterwards is timed too, but is not part of the
budget.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Summary, fmt_s, log, table, verdict
from devstack import postgres

BUDGET_SECONDS = 5.0


@dataclass(frozen=True)
class StartupRun:
    initdb: float
    start: float
    bootstrap: float
    destroy: float
    applied: int

    @property
    def total(self) -> float:
        return self.initdb + self.start + self.bootstrap


@dataclass(frozen=True)
class StartupResult:
    runs: list[StartupRun]

    def summary(self, step: str) -> Summary:
        return Summary.of([getattr(run, step) for run in self.runs])

    @property
    def passed(self) -> bool:
        return self.summary("total").maximum <= BUDGET_SECONDS

    def render(self) -> str:
        rows = []
        for step in ("initdb", "start", "bootstrap", "total", "destroy"):
            s = self.summary(step)
            budget = f"≤ {BUDGET_SECONDS:.0f} s (max)" if step == "total" else ""
            status = verdict(self.passed) if step == "total" else ""
            rows.append(
                [step, s.n, fmt_s(s.median), fmt_s(s.minimum), fmt_s(s.maximum), budget, status]
            )
        return table(["step", "runs", "median s", "min s", "max s", "budget", "result"], rows)


def one_run() -> StartupRun:
    base = Path(tempfile.mkdtemp(prefix="invoiceflow-bench-startup-"))
    postgres._chown_to_postgres(base)
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must traverse it
    cluster = postgres.Cluster(
        datadir=base / "data", port=postgres.free_port(), ephemeral=True, sockdir=base / "sock"
    )
    try:
        t0 = time.perf_counter()
        cluster.init()
        t1 = time.perf_counter()
        cluster.start()
        t2 = time.perf_counter()
        applied = postgres.bootstrap(cluster.url, seed=False)
        t3 = time.perf_counter()
    finally:
        t4 = time.perf_counter()
        cluster.destroy()
        t5 = time.perf_counter()
    return StartupRun(
        initdb=t1 - t0, start=t2 - t1, bootstrap=t3 - t2, destroy=t5 - t4, applied=len(applied)
    )


def run(runs: int) -> StartupResult:
    results: list[StartupRun] = []
    for i in range(runs):
        result = one_run()
        log(
            f"startup run {i + 1}/{runs}: initdb {result.initdb:.2f} s, start {result.start:.2f} s,"
            f" bootstrap {result.bootstrap:.2f} s ({result.applied} scripts),"
            f" total {result.total:.2f} s"
        )
        results.append(result)
    return StartupResult(results)
