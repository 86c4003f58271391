"""`make test-clock` runs the whole suite with the clock moved (libfaketime, CLOCK_OFFSET).
This checks that the move really reached both clocks the suite depends on: Python's and the
PostgreSQL server's that the session started (as the `postgres` user, through runuser). A run
where only one of them moved would pass for the wrong reason.

Skipped unless INVOICEFLOW_EXPECT_CLOCK_OFFSET is set (the Makefile sets it to CLOCK_OFFSET,
in libfaketime's relative form: +365d, -30d, +2y, +36h). The real time comes from a child
process started without libfaketime. The waits are checked in every run: under libfaketime
alone (without tests/faketime/passthrough.c) Python's time.sleep() fails with EINVAL and a
PostgreSQL statement timeout that comes due while the statement waits never fires."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time

import psycopg
import pytest
from psycopg import errors

EXPECTED = os.environ.get("INVOICEFLOW_EXPECT_CLOCK_OFFSET", "")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}
# The run's own time between reading the clocks, with room for a loaded machine.
TOLERANCE_SECONDS = 120


def offset_seconds(spec: str) -> float:
    """libfaketime's relative offset ("+365d", "-1.5h", "+2y") in seconds."""
    found = re.fullmatch(r"\s*([+-]\d+(?:\.\d+)?)([smhdy]?)\s*", spec)
    if found is None:
        raise ValueError(f"not a relative libfaketime offset: {spec!r}")
    return float(found.group(1)) * UNITS[found.group(2)]


def test_offset_spec_parses() -> None:
    assert offset_seconds("+365d") == 365 * 86400
    assert offset_seconds("-30d") == -30 * 86400
    assert offset_seconds("+2y") == 2 * 365 * 86400
    assert offset_seconds("+1.5h") == 5400
    with pytest.raises(ValueError, match="relative"):
        offset_seconds("2027-12-06 10:00:00")


def real_epoch() -> float:
    """The machine's real clock: `date` started without libfaketime in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    out = subprocess.run(
        ["date", "+%s.%N"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return float(out)


@pytest.mark.skipif(
    not EXPECTED, reason="only under `make test-clock` (INVOICEFLOW_EXPECT_CLOCK_OFFSET)"
)
def test_python_and_postgres_see_the_moved_clock(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    want = offset_seconds(EXPECTED)
    real = real_epoch()
    python_now = time.time()
    row = conn.execute(
        "select extract(epoch from clock_timestamp())::float8, current_date,"
        " (select setting from pg_settings where name = 'TimeZone')"
    ).fetchone()
    assert row is not None
    pg_epoch, pg_today, pg_zone = row
    assert isinstance(pg_epoch, float)
    assert abs((python_now - real) - want) < TOLERANCE_SECONDS, (python_now, real, want)
    assert abs((pg_epoch - real) - want) < TOLERANCE_SECONDS, (pg_epoch, real, want)
    # The dates the tests compare: Python's today and the database's current_date agree
    # (the server runs in UTC, as Supabase's does).
    assert pg_zone in ("UTC", "Etc/UTC"), pg_zone
    assert pg_today == dt.datetime.now(dt.UTC).date()


def test_timeouts_fire_during_waits(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    started = time.monotonic()
    time.sleep(0.05)
    assert time.monotonic() - started >= 0.05
    conn.execute("set statement_timeout = '200ms'")
    started = time.monotonic()
    with pytest.raises(errors.QueryCanceled):
        conn.execute("select pg_sleep(5)")
    assert time.monotonic() - started < 3
