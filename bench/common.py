"""What every benchmark shares: connections, summaries, tables, the machine."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

Conn = psycopg.Connection[tuple[Any, ...]]

OUT_DIR = Path(__file__).resolve().parent / "out"


def connect(url: str, *, autocommit: bool = True) -> Conn:
    """A connection that never prepares statements behind our back.

    psycopg prepares a query server-side after 5 executions, after which PostgreSQL may
    switch to a generic plan: the figures would change half-way through a series.
    """
    return psycopg.connect(url, autocommit=autocommit, prepare_threshold=None)


def user_token(secret: str, user_id: str, seconds: int = 7200) -> str:
    """An access token for ``user_id`` as Supabase Auth signs it (HS256)."""
    import jwt  # noqa: PLC0415  (only the benchmarks that sign in need it)

    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + seconds,
    }
    return jwt.encode(claims, secret, "HS256")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Summary:
    """Order statistics of one series of timings (any unit, the caller's)."""

    n: int
    median: float
    p95: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no values to summarize")
        ordered = sorted(values)
        # Nearest-rank percentile: an observed value, never an interpolation.
        rank = max(1, math.ceil(0.95 * len(ordered)))
        return cls(
            n=len(ordered),
            median=statistics.median(ordered),
            p95=ordered[rank - 1],
            minimum=ordered[0],
            maximum=ordered[-1],
        )


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else math.inf


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown pipe table, aligned so it also reads well in a terminal."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(cells)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(r) for r in body)])


def fmt_ms(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_s(value: float) -> str:
    return f"{value:.2f}"


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"


def timed(action: Callable[[], object]) -> float:
    """Seconds the action took (wall clock)."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _command(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unavailable"
    return proc.stdout.strip() or proc.stderr.strip() or "unavailable"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass(frozen=True)
class Machine:
    date: str
    nproc: str
    cpu_model: str
    memory: str
    loadavg_start: str
    python: str
    postgres_binary: str

    @classmethod
    def describe(cls) -> Machine:
        from devstack.postgres import pg_bindir  # noqa: PLC0415 - only when benchmarking

        try:
            postgres_version = _command([str(pg_bindir() / "postgres"), "--version"])
        except RuntimeError:
            postgres_version = "unavailable"
        return cls(
            date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            nproc=_command(["nproc"]),
            cpu_model=_cpu_model(),
            memory=_command(["free", "-h"]),
            loadavg_start=loadavg(),
            python=platform.python_version(),
            postgres_binary=postgres_version,
        )


def loadavg() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unavailable"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
