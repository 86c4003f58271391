"""Scheduled job (every minute): moves the webhooks outbox into the delivery queue.

``public.webhook_claim_deliveries`` claims at most ``CLAIM_BATCH`` deliveries a call
(pending ones, oldest first, and in-flight ones whose message was lost: no move for
``REQUEUE_AFTER_SECONDS``), skip locked, marking them ``queued``; the job sends one SQS
message per delivery (``{"delivery_id"}``, batches of 10) to the webhook queue, whose
worker posts them (functions/jobs/webhook_worker.py). Running it twice, or two runs at
once, claims nothing twice: a claimed row is no longer pending. A run that dies between a
claim and its messages leaves the rows ``queued``; the claim's second branch sends them
again after REQUEUE_AFTER_SECONDS, and the worker's own checks make a second message for
a delivery harmless (a succeeded delivery is never posted again, one being posted is busy).
"""

from __future__ import annotations

import json
from typing import Any

from shared import aws
from shared.jobs import TIME_RESERVE_MS, Job

CLAIM_BATCH = 500
# Longer than the longest back-off (an hour) and the worker's lease: a delivery in flight
# for this long lost its message.
REQUEUE_AFTER_SECONDS = 7200


def enqueue(queue_url: str, delivery_ids: list[str]) -> int:
    """One message per delivery, in batches of 10; the count sent (raises on a failure)."""
    sqs = aws.client("sqs")
    sent = 0
    for start in range(0, len(delivery_ids), 10):
        chunk = delivery_ids[start : start + 10]
        reply = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"delivery_id": delivery_id})}
                for n, delivery_id in enumerate(chunk)
            ],
        )
        if reply.get("Failed"):
            raise RuntimeError(f"SQS refused {len(reply['Failed'])} webhook messages")
        sent += len(chunk)
    return sent


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("webhook_dispatch", context)
    queue_url = job.settings.webhook_queue_url
    if not queue_url:
        raise RuntimeError("webhook_dispatch needs WEBHOOK_QUEUE_URL")
    totals: dict[str, Any] = {"queued": 0, "calls": 0}
    while True:
        claimed = job.rpc(
            "webhook_claim_deliveries",
            {"batch_limit": CLAIM_BATCH, "requeue_after_seconds": REQUEUE_AFTER_SECONDS},
        )
        ids = [str(row if isinstance(row, str) else next(iter(row.values()))) for row in claimed]
        totals["calls"] += 1
        totals["queued"] += enqueue(queue_url, ids) if ids else 0
        if len(ids) < CLAIM_BATCH:
            break
        if job.time_left_ms() <= TIME_RESERVE_MS:
            job.warning("out of time; the rest waits for the next run", queued=totals["queued"])
            totals["unfinished"] = True
            break
    return job.finish(totals)
