"""Scheduled job (hourly, so that each time zone's new day is seen within the hour): sent
quotes past their valid_until day become expired.

``public.job_expire_quotes`` expires at most ``EXPIRE_BATCH`` quotes a call, the earliest
valid_until first, each organization judged by its own today (its time zone, the
organization settings' ``time_zone``): a quote valid through the 5th expires on the 6th
where the business is. The job calls it until a call expires fewer, so no statement
approaches the statement timeout whatever the count (docs/architecture.md, "Statement
timeouts"). It sends nothing. Running it again, or two runs at once (rows locked by the
other run are skipped), expires nothing twice; a run stopped part-way leaves the rest for
the next run.
"""

from __future__ import annotations

from typing import Any

from shared.jobs import TIME_RESERVE_MS, Job

# Quotes per call: one indexed UPDATE of at most this many rows.
EXPIRE_BATCH = 2000


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("expire_quotes", context)
    totals: dict[str, Any] = {"expired": 0, "organizations": 0, "calls": 0}
    while True:
        counts: dict[str, Any] = job.rpc("job_expire_quotes", {"batch_limit": EXPIRE_BATCH})
        totals["calls"] += 1
        totals["expired"] += int(counts["expired"])
        totals["organizations"] += int(counts["organizations"])
        if int(counts["expired"]) < EXPIRE_BATCH:
            break
        if job.time_left_ms() <= TIME_RESERVE_MS:
            job.warning("out of time; the rest waits for the next run", expired=totals["expired"])
            totals["unfinished"] = True
            break
    return job.finish(totals)
