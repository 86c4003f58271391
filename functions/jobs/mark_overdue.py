"""Scheduled job (daily, 00:05 UTC): sent invoices past their due date become overdue.

``public.job_mark_overdue`` marks at most ``MARK_BATCH`` invoices a call, the earliest
due first: the status, one ``invoice_overdue`` activity per invoice, and the overdue
notices for owners and admins who want them (sent by ``jobsNotifications``; one per
organization and member, later calls adding to it). The job calls it until a call marks
fewer, so no statement approaches the statement timeout whatever the count
(docs/architecture.md, "Statement timeouts"). Running it again counts nothing; a run
stopped part-way (time, a cancelled call) leaves the rest ``sent`` for the next run.
Event: ``{}`` or EventBridge's scheduled event; ``{"as_of": "YYYY-MM-DD"}`` replays a day.
"""

from __future__ import annotations

from typing import Any

from shared.jobs import TIME_RESERVE_MS, Job, JobEvent

# Invoices per call: well under a second each at 2,000 (bench/RESULTS.md, "Issue 13").
MARK_BATCH = 2000


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("mark_overdue", context)
    asked = JobEvent.parse(event)
    params: dict[str, Any] = {"batch_limit": MARK_BATCH}
    if asked.as_of:
        params["as_of"] = asked.as_of.isoformat()
    totals: dict[str, Any] = {
        "marked": 0,
        "activities": 0,
        "organizations": 0,
        "notifications_queued": 0,
        "calls": 0,
    }
    while True:
        counts: dict[str, Any] = job.rpc("job_mark_overdue", params)
        totals["as_of"] = counts["as_of"]
        totals["calls"] += 1
        for key in ("marked", "activities", "organizations", "notifications_queued"):
            totals[key] += int(counts[key])
        if int(counts["marked"]) < MARK_BATCH:
            break
        if job.time_left_ms() <= TIME_RESERVE_MS:
            job.warning("out of time; the rest waits for the next run", marked=totals["marked"])
            totals["unfinished"] = True
            break
    return job.finish(totals)
