"""Scheduled job (daily, 00:05 UTC): sent invoices past their due date become overdue.

One SQL call (``public.job_mark_overdue``) does the whole set: the status, one
``invoice_overdue`` activity per invoice, and the overdue notices queued for owners and
admins who want them (sent by ``jobsNotifications``). Running it again counts nothing.
Event: ``{}`` or EventBridge's scheduled event; ``{"as_of": "YYYY-MM-DD"}`` replays a day.
"""

from __future__ import annotations

from typing import Any

from shared.jobs import Job, JobEvent


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("mark_overdue", context)
    asked = JobEvent.parse(event)
    params = {"as_of": asked.as_of.isoformat()} if asked.as_of else {}
    counts: dict[str, Any] = job.rpc("job_mark_overdue", params)
    return job.finish(counts)
