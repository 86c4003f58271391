"""Scheduled job (hourly): the recurring profiles' invoices that are due (docs/jobs.md,
"Recurring invoices").

``public.job_issue_recurring`` issues, a bounded chunk a call (``ISSUE_BATCH`` invoices),
every period whose billing date has come in its organization's time zone, each exactly once
(a unique period per profile; calls serialized, profiles locked): dated for its period,
missed periods caught up one invoice each. The job calls it until a call issues fewer than
the chunk, so no statement approaches the statement timeout (docs/architecture.md,
"Statement timeouts").

What is emailed: with ``auto_send``, each profile's current period only, through the
bulk-send path: the SQL makes one bulk send per organization and call (its items pending),
this job queues its ids on the bulk queue, and the queue worker
(``functions/jobs/bulk_worker.py``) claims each item once, emails it with its PDF and marks
the invoice sent. Periods caught up late are drafts, never emailed by the job. A bulk send
whose items are still pending 15 minutes after it was made (its message lost, the queue
away) is queued again by the next run; a second message is harmless (items are claimed
once). Hourly, so that an organization east or west of UTC is served within the hour its
day starts.

Event: ``{}`` or EventBridge's; ``now`` (ISO 8601 with offset, at most a day ahead)
replays a moment, ``organization_ids`` limits a run, ``batch_limit`` (1-2000) the chunk.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from shared.jobs import TIME_RESERVE_MS, Job, JobInputError

# Invoices per call: ~0.3 s each at 500 (bench/RESULTS.md, "Issue 15: recurring invoices").
ISSUE_BATCH = 500
# Ids per queue message, as the bulk sends' (shared.bulk_send.IDS_PER_MESSAGE).
IDS_PER_MESSAGE = 10
# A recurring bulk send still pending this long after it was made is queued again.
REQUEUE_AFTER_SECONDS = 900


def parse_event(event: Any) -> dict[str, Any]:
    """The SQL parameters the event asks for; a malformed event names the field."""
    if event is None or event == "":
        return {}
    if not isinstance(event, dict):
        raise JobInputError("the event must be a JSON object")
    params: dict[str, Any] = {}
    if event.get("as_of") is not None:
        raise JobInputError("as_of: this job takes now (a moment with its offset), not a day")
    if event.get("now") is not None:
        try:
            moment = dt.datetime.fromisoformat(str(event["now"]))
        except ValueError:
            raise JobInputError(f"now must be an ISO 8601 moment, not {event['now']!r}") from None
        if moment.tzinfo is None:
            raise JobInputError("now needs its UTC offset (2026-12-01T00:30:00+00:00)")
        params["now"] = moment.isoformat()
    orgs = event.get("organization_ids")
    if orgs is not None:
        if not isinstance(orgs, list) or not orgs:
            raise JobInputError("organization_ids must be a non-empty list of ids")
        try:
            params["organization_ids"] = [str(uuid.UUID(str(value))) for value in orgs]
        except ValueError:
            raise JobInputError("organization_ids must be UUIDs") from None
    batch = event.get("batch_limit", ISSUE_BATCH)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 2000:
        raise JobInputError("batch_limit must be an integer from 1 to 2000")
    params["batch_limit"] = batch
    return params


def enqueue(job: Job, bulk_jobs: list[dict[str, Any]]) -> tuple[int, int]:
    """Queues the pending ids of each bulk send for the bulk worker; (messages queued,
    ids not queued). Ids not queued stay pending: a later run queues them again."""
    pending = [(b["job_id"], list(b.get("invoice_ids") or [])) for b in bulk_jobs]
    pending = [(j, ids) for j, ids in pending if ids]
    if not pending:
        return 0, 0
    url = job.settings.bulk_queue_url
    if not url:
        left = sum(len(ids) for _, ids in pending)
        job.warning("no bulk queue configured; recurring emails wait", ids=left)
        return 0, left
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from shared import aws  # noqa: PLC0415

    messages = [
        json.dumps({"job_id": job_id, "invoice_ids": ids[i : i + IDS_PER_MESSAGE]})
        for job_id, ids in pending
        for i in range(0, len(ids), IDS_PER_MESSAGE)
    ]
    sqs = aws.client("sqs")
    queued = refused = 0
    for start in range(0, len(messages), 10):
        batch = [
            {"Id": str(n), "MessageBody": body}
            for n, body in enumerate(messages[start : start + 10])
        ]
        try:
            reply = sqs.send_message_batch(QueueUrl=url, Entries=batch)
            failed = {f["Id"] for f in reply.get("Failed", [])}
        except (ClientError, BotoCoreError):
            failed = {m["Id"] for m in batch}
        for message in batch:
            if message["Id"] in failed:
                refused += len(json.loads(message["MessageBody"])["invoice_ids"])
            else:
                queued += 1
    if refused:
        job.warning("recurring emails not queued; the next run queues them", ids=refused)
    return queued, refused


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("recurring", context)
    params = parse_event(event)
    batch = int(params["batch_limit"])
    totals: dict[str, Any] = {
        "issued": 0,
        "emailing": 0,
        "drafts": 0,
        "profiles": 0,
        "ended": 0,
        "calls": 0,
        "messages_queued": 0,
        "not_queued": 0,
    }
    while True:
        body: dict[str, Any] = job.rpc("job_issue_recurring", params)
        totals["now"] = body["now"]
        totals["calls"] += 1
        for key in ("issued", "emailing", "drafts", "profiles", "ended"):
            totals[key] += int(body[key])
        queued, refused = enqueue(job, body.get("bulk_jobs") or [])
        totals["messages_queued"] += queued
        totals["not_queued"] += refused
        if body["done"] or int(body["issued"]) < batch:
            break
        if job.time_left_ms() <= TIME_RESERVE_MS:
            job.warning("out of time; the rest waits for the next run", issued=totals["issued"])
            totals["unfinished"] = True
            break
    # Bulk sends of earlier runs still pending (a lost message, the queue away): again.
    stale: list[dict[str, Any]] = job.rpc(
        "job_recurring_unsent", {"older_than_seconds": REQUEUE_AFTER_SECONDS}
    )
    queued, refused = enqueue(job, stale or [])
    totals["requeued_messages"] = queued
    totals["not_queued"] += refused
    return job.finish(totals)
