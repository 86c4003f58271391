"""The webhook delivery worker: consumes the webhook queue (SQS -> Lambda, batches of 10).

Each message is ``{"delivery_id"}``. For each, the worker (the service role):

1. ``webhook_begin_attempt``: the delivery's next attempt (URL, the endpoint's signing
   secrets, the event), or why there is none: succeeded or failed already, gone (its
   endpoint deleted), busy (another invocation is posting it: the message comes back);
2. posts the event signed by the Standard Webhooks scheme (shared/webhooks.py), at most
   ``WEBHOOK_TIMEOUT_SECONDS``, redirects not followed;
3. ``webhook_finish_attempt``: the attempt recorded (status code, duration, error; never
   the secret or the response body) and the delivery moved on.

A failed attempt before the last: the message's visibility is stretched to the back-off
(``WEBHOOK_RETRY_BASE_SECONDS`` x 2^(n-1), at most an hour) and it is reported as a batch
item failure, so SQS brings it back then. After the last (``WEBHOOK_MAX_ATTEMPTS``) the
delivery is ``failed``, the message is copied to the dead-letter queue and deleted. The
queue's redrive policy (a few receives more than the tries) is the backstop for a worker
that dies. A person replays a failed delivery through the API (a new round, the same
event id). Deliveries of one batch are posted concurrently (a thread each).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from shared import aws, db, webhooks
from shared.errors import ApiError
from shared.log import get_logger
from shared.settings import Settings, get_settings

BUSY_RETRY_SECONDS = 30
LEASE_SECONDS = 60  # longer than an attempt (the receiver's 10 s and the two records)

_http: httpx.Client | None = None


def _client() -> httpx.Client:
    global _http  # noqa: PLW0603  (one pool per Lambda instance)
    if _http is None:
        _http = httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=20))
    return _http


def _service(settings: Settings) -> Any:
    if not settings.supabase_service_role_key:
        raise RuntimeError("SUPABASE_SERVICE_ROLE_KEY is not set")
    return db.rest(settings, service=settings.supabase_service_role_key)


def _later(settings: Settings, record: dict[str, Any], seconds: int) -> None:
    """Brings the message back in ``seconds`` (its visibility; SQS allows 12 hours)."""
    if settings.webhook_queue_url and record.get("receiptHandle"):
        aws.client("sqs").change_message_visibility(
            QueueUrl=settings.webhook_queue_url,
            ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=max(0, min(seconds, 43_200)),
        )


def _defer(settings: Settings, record: dict[str, Any]) -> None:
    """A message whose delivery could not be begun or recorded (the database away, or
    answering 503) comes back after the first back-off, not after the queue's visibility
    timeout (360 s: a delivery the receiver got stayed `delivering` that long). A lease
    the attempt still holds answers `busy`, which defers it again. SQS itself away: the
    visibility timeout brings it back all the same."""
    try:
        _later(settings, record, settings.webhook_retry_base_seconds)
    except (BotoCoreError, ClientError) as error:
        get_logger(settings.log_level).warning(
            "webhook message not deferred", extra={"fields": {"error": type(error).__name__}}
        )


def _dead_letter(settings: Settings, record: dict[str, Any]) -> None:
    if settings.webhook_dead_letter_queue_url:
        aws.client("sqs").send_message(
            QueueUrl=settings.webhook_dead_letter_queue_url, MessageBody=record.get("body", "")
        )


def process(client: Any, settings: Settings, record: dict[str, Any]) -> bool:
    """One message; True when it is done (delete it), False to have it back later."""
    log = get_logger(settings.log_level)
    try:
        delivery_id = str(json.loads(record["body"])["delivery_id"])
    except (KeyError, TypeError, ValueError):
        log.error("webhook message unreadable", extra={"fields": {"id": record.get("messageId")}})
        return True
    attempt = db.rpc(
        client,
        "webhook_begin_attempt",
        {"delivery_id": delivery_id, "lease_seconds": LEASE_SECONDS},
    )
    skip = attempt.get("skip")
    if skip == "busy":
        _later(settings, record, BUSY_RETRY_SECONDS)
        return False
    if skip:
        return True
    outcome = webhooks.deliver(_client(), attempt, settings.webhook_timeout_seconds)
    final = not outcome.succeeded and int(attempt["round_attempt"]) >= settings.webhook_max_attempts
    wait = webhooks.backoff_seconds(
        int(attempt["round_attempt"]), settings.webhook_retry_base_seconds
    )
    state = db.rpc(
        client,
        "webhook_finish_attempt",
        {
            "delivery_id": delivery_id,
            "attempt": int(attempt["attempt"]),
            "started_at": outcome.started_at.isoformat(),
            "duration_ms": outcome.duration_ms,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "succeeded": outcome.succeeded,
            "final": final,
            "next_attempt_at": (datetime.now(UTC) + timedelta(seconds=wait)).isoformat(),
        },
    )
    log.info(
        "webhook attempt",
        extra={
            "fields": {
                "delivery_id": delivery_id,
                "event_type": attempt["event"]["type"],
                "attempt": attempt["attempt"],
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "state": state,
            }
        },
    )
    if state == "retrying":
        _later(settings, record, wait)
        return False
    if state == "failed" and final:
        _dead_letter(settings, record)
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    client = _service(settings)
    records = list(event.get("Records") or [])

    def one(record: dict[str, Any]) -> bool:
        try:
            return process(client, settings, record)
        except ApiError as error:  # the database is away: the message comes back
            get_logger(settings.log_level).warning(
                "webhook message deferred",
                extra={
                    "fields": {
                        "id": record.get("messageId"),
                        "status": error.status,
                        "code": error.code,
                        "sqlstate": error.sqlstate,
                    }
                },
            )
            _defer(settings, record)
            return False

    with ThreadPoolExecutor(max_workers=max(1, min(len(records), 10))) as pool:
        done = list(pool.map(one, records))
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record, ok in zip(records, done, strict=True)
        if not ok
    ]
    return {"batchItemFailures": failures}
