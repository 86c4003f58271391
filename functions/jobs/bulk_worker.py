"""The bulk send worker: consumes the bulk queue (SQS -> Lambda, batches of messages).

Each message is ``{"job_id", "invoice_ids": [...]}``. The worker speaks as the service
role, so it reads the job's organization and options **from the database** (never from
the message) and passes that organization to every call: it acts only within the job's
organization. Items are claimed one at a time, just before each is emailed, and marked in
the transaction that records the send (`shared.bulk_send.process_bulk_items`), so a message
delivered twice, or a batch rerun after a timeout, never emails an invoice twice, and an
invocation killed mid-batch (Lambda's timeout) leaves only the item it was sending in
doubt: the rest stay pending and are sent when the message comes back; that one is failed
as ``interrupted`` once its claim is stale (``BULK_CLAIM_STALE_SECONDS``), never resent.

Failures are reported per message (``batchItemFailures``, serverless.yml's
``ReportBatchItemFailures``): a throttled or unavailable email service puts the items
back and the message is retried after the visibility timeout; after
``MAX_RECEIVES`` attempts the items fail for good (the queue would move the message to
its dead-letter queue). Items not reached before the Lambda's time runs out are put
back and their message retried; so is a message whose items are still "sending" (held by
another invocation, or sent and not recorded), until they are settled.
"""

from __future__ import annotations

import json
from typing import Any

from shared import bulk_send, db, lambda_context
from shared.errors import ApiError
from shared.log import get_logger
from shared.settings import Settings, get_settings

# The queue's maxReceiveCount (serverless.yml, devstack/aws.py): the last attempt fails
# retryable items instead of putting them back.
MAX_RECEIVES = 5
SAFETY_MARGIN_SECONDS = 10.0


def _service(settings: Settings) -> Any:
    if not settings.supabase_service_role_key:
        raise RuntimeError("SUPABASE_SERVICE_ROLE_KEY is not set")
    return db.rest(settings, service=settings.supabase_service_role_key)


def _job(client: Any, job_id: str) -> dict[str, Any] | None:
    rows = db.run(
        client.from_("bulk_jobs")
        .select("id,organization_id,action,options")
        .eq("id", job_id)
        .limit(1)
    ).data
    return rows[0] if rows else None


def process_message(
    client: Any, settings: Settings, record: dict[str, Any], time_left: Any
) -> bool:
    """Processes one SQS record; True when it is done (delete it), False to retry it."""
    log = get_logger(settings.log_level)
    try:
        body = json.loads(record["body"])
        job_id = str(body["job_id"])
        ids = [str(i) for i in body["invoice_ids"]]
    except (KeyError, TypeError, ValueError):
        log.error("bulk message unreadable", extra={"fields": {"id": record.get("messageId")}})
        return True  # never retry what cannot be read
    job = _job(client, job_id)
    if job is None or job.get("action") != "send":
        log.error("bulk message for no job", extra={"fields": {"job_id": job_id}})
        return True
    receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    progress = bulk_send.process_bulk_items(
        client,
        settings,
        organization_id=job["organization_id"],
        job_id=job_id,
        invoice_ids=ids,
        options=job.get("options") or {},
        may_retry=receives < MAX_RECEIVES,
        time_left=time_left,
        margin_seconds=SAFETY_MARGIN_SECONDS,
    )
    log.info(
        "bulk message",
        extra={
            "fields": {
                "job_id": job_id,
                "sent": progress.sent,
                "failed": progress.failed,
                "retry": len(progress.retry),
            }
        },
    )
    return not progress.retry


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    client = _service(settings)

    time_left = lambda_context.time_left(context) or (lambda: 3600.0)

    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        try:
            done = process_message(client, settings, record, time_left)
        except ApiError as error:  # the database is away: the message comes back
            get_logger(settings.log_level).warning(
                "bulk message deferred", extra={"fields": {"code": error.code}}
            )
            done = False
        if not done:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
