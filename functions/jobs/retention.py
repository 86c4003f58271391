"""Scheduled job (daily, 03:15 UTC): purges what the retention rules allow, after their
period (docs/security.md, "Retention").

``public.retention_purge`` removes at most ``CHUNK`` rows a table a call — the system logs
older than 90 days (settled email deliveries, import row errors) — and one organization
closed more than 7 years ago with all it holds, recording each chunk in
``public.retention_purges``. Financial records of open organizations and the audit log are
never purged here. The job calls it until a call purges nothing or its time runs out (the
rest waits for the next run); two runs never wait on each other (SKIP LOCKED).
"""

from __future__ import annotations

from typing import Any

from shared.jobs import TIME_RESERVE_MS, Job

CHUNK = 1000


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("retention", context)
    totals: dict[str, Any] = {"calls": 0, "purged": {}}
    while True:
        purged: dict[str, Any] = job.rpc("retention_purge", {"chunk": CHUNK}) or {}
        totals["calls"] += 1
        for table, count in purged.items():
            totals["purged"][table] = totals["purged"].get(table, 0) + int(count)
        if not purged:
            break
        if job.time_left_ms() <= TIME_RESERVE_MS:
            job.warning("out of time; the rest waits for the next run", purged=totals["purged"])
            totals["unfinished"] = True
            break
    return job.finish(totals)
