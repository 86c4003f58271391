"""The flows of ``POST /api/invoices/bulk-actions`` (functions/invoices/bulk_actions.py):
one action over 1 to 500 invoices of the caller's organization, a result per id.

- `apply` (``mark_sent``, ``mark_paid``, ``cancel``, ``delete``): one SQL function
  (``bulk_invoice_action``), one transaction, set-based.
- `send`: a bulk job records every id (``create_bulk_send``); up to
  `shared.bulk_send.INLINE_SEND_LIMIT` are emailed during the request, more are queued on
  SQS for `functions.jobs.bulk_worker` (the answer says ``queued``; progress at
  ``GET /api/invoices/bulk-actions/{id}``). An inline send first queues one message for
  its items, delayed past the request's end (`safety_delay`): a request cut off mid-way
  (a Lambda timeout, a crash) is finished by the worker, which finds the items already
  settled when it was not. It also stops claiming before the Lambda's deadline and leaves
  the rest to that message (``queued``). Best effort: without SQS the inline send still
  works.
- `download`: the PDFs in a zip in S3 under the organization's prefix, answered with a
  presigned URL.

Ids of another organization are ``not_found``, like ids that do not exist. Only the
bulk-actions function imports this module (boto3 and the PDF renderer come with it);
the progress route reads its models from `shared.models.delivery`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import uuid
import zipfile
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from shared import aws, bulk_send, db, sending
from shared.context import Context
from shared.documents import load_invoice_documents
from shared.errors import ApiError
from shared.lambda_context import TimeLeft
from shared.log import get_logger
from shared.models.delivery import (
    BulkActionRequest,
    BulkActionResult,
    BulkItemResult,
    bulk_item_result,
    bulk_result,
)
from shared.pdf import render_invoice_pdf

# serverless.yml's timeout of invoicesBulkActions (tests/api/jobs/test_bulk_worker_cut_off.py
# checks it): how long an inline send may run when no Lambda context says so.
ROUTE_TIMEOUT_SECONDS = 29
# The safety message of an inline send becomes visible this long after the invocation's
# deadline at the earliest.
SAFETY_DELAY_MARGIN_SECONDS = 30
# An inline send stops claiming this long before the Lambda's deadline (the answer still
# has to be read and sent back); the items not reached are left to the safety message.
INLINE_MARGIN_SECONDS = 5.0


def apply(ctx: Context, body: BulkActionRequest) -> BulkActionResult:
    """mark_sent, mark_paid, cancel or delete: one SQL call for every id."""
    options = body.payment_options() if body.action == "mark_paid" else {}
    answer = db.rpc(
        ctx.db,
        "bulk_invoice_action",
        {
            "organization_id": str(ctx.organization_id),
            "action": body.action,
            "ids": [str(i) for i in body.ids],
            "options": options,
        },
    )
    results = [BulkItemResult.model_validate(r) for r in answer["results"]]
    return bulk_result(body.action, results)


# =============================================================================
# send
# =============================================================================


def safety_delay(ctx: Context, time_left: TimeLeft | None) -> int:
    """Seconds the safety message waits: past this invocation's deadline (its remaining
    time, or the route's timeout) plus a margin, at most SQS's 900;
    ``BULK_INLINE_SAFETY_DELAY_SECONDS`` when set."""
    configured = ctx.user.settings.bulk_inline_safety_delay_seconds
    if configured is not None:
        return configured
    remaining = time_left() if time_left is not None else ROUTE_TIMEOUT_SECONDS
    return min(900, math.ceil(remaining) + SAFETY_DELAY_MARGIN_SECONDS)


def send(ctx: Context, body: BulkActionRequest, time_left: TimeLeft | None) -> BulkActionResult:
    """Emails the invoices, inline or through the queue. ``queued`` in the answer: some
    (or all) are left to the worker; the route answers 202 then."""
    settings = ctx.user.settings
    org = str(ctx.organization_id)
    ids = [str(i) for i in body.ids]
    options = body.send_options()
    queued = len(ids) > bulk_send.INLINE_SEND_LIMIT
    if queued and not settings.bulk_queue_url:
        raise ApiError(
            503, "service_unavailable", "bulk sends are not available: no queue is configured"
        )
    job = db.rpc(
        ctx.db,
        "create_bulk_send",
        {"organization_id": org, "ids": ids, "options": options, "queued": queued},
    )
    job_id = job["job_id"]
    pending = [i["invoice_id"] for i in job["items"] if i["status"] == "pending"]
    if queued:
        _enqueue(ctx, job_id, pending)
        return _send_result(ctx, job_id, queued=True)
    safety = bool(pending) and _enqueue_safety(ctx, job_id, pending, time_left)
    progress = bulk_send.process_bulk_items(
        ctx.db,
        settings,
        organization_id=org,
        job_id=job_id,
        invoice_ids=pending,
        options=options,
        may_retry=False,
        time_left=time_left or (lambda: 3600.0),
        margin_seconds=INLINE_MARGIN_SECONDS,
    )
    if progress.retry and not safety:
        # Out of time with nothing queued to finish: fail what was not reached (still
        # pending; nothing was sent for them), so the job finishes.
        _abandon(
            ctx,
            job_id,
            progress.retry,
            "the request ran out of time before this one; nothing was sent, retry it",
        )
    items = _job_items(ctx, job_id)
    left = any(i["status"] in ("pending", "sending") for i in items)
    return _send_result(ctx, job_id, queued=safety and left, items=items)


def _send_result(
    ctx: Context, job_id: str, *, queued: bool, items: list[dict[str, Any]] | None = None
) -> BulkActionResult:
    rows = items if items is not None else _job_items(ctx, job_id)
    results = [bulk_item_result(i) for i in rows]
    if queued:
        return bulk_result("send", results, job_id=job_id, queued=True)
    return bulk_result("send", results, job_id=job_id)


def _job_items(ctx: Context, job_id: str) -> list[dict[str, Any]]:
    rows = db.run(
        ctx.db.from_("bulk_job_items")
        .select("invoice_id,status,reason,message")
        .eq("job_id", job_id)
        .eq("organization_id", str(ctx.organization_id))
        .order("position")
    ).data
    return list(rows or [])


def _abandon(ctx: Context, job_id: str, ids: list[str], message: str) -> None:
    """Fails items still pending (nothing was sent for them) so the job finishes."""
    db.rpc(
        ctx.db,
        "abandon_bulk_items",
        {
            "organization_id": str(ctx.organization_id),
            "job_id": job_id,
            "ids": ids,
            "reason": "send_failed",
            "message": message,
        },
    )


def _enqueue_safety(
    ctx: Context, job_id: str, pending: list[str], time_left: TimeLeft | None
) -> bool:
    """One delayed message for an inline send's pending ids (the shape `_enqueue` uses:
    they are at most `bulk_send.INLINE_SEND_LIMIT`, one message's worth); True when queued.
    Best effort: without a queue, or with SQS away, the send goes on inline."""
    settings = ctx.user.settings
    if not settings.bulk_queue_url:
        return False
    try:
        aws.client("sqs").send_message(
            QueueUrl=settings.bulk_queue_url,
            MessageBody=json.dumps({"job_id": job_id, "invoice_ids": pending}),
            DelaySeconds=safety_delay(ctx, time_left),
        )
    except (ClientError, BotoCoreError) as error:
        get_logger(settings.log_level).warning(
            "bulk send safety message not queued; sending inline only",
            extra={"fields": {"job_id": job_id, "error": type(error).__name__}},
        )
        return False
    return True


def _enqueue(ctx: Context, job_id: str, pending: list[str]) -> None:
    """One message per `bulk_send.IDS_PER_MESSAGE` pending ids, ten messages per call; the
    ids SQS refused are failed (nothing was sent for them)."""
    messages = [
        {"Id": str(n), "MessageBody": json.dumps({"job_id": job_id, "invoice_ids": chunk})}
        for n, chunk in enumerate(bulk_send.chunks(pending, bulk_send.IDS_PER_MESSAGE))
    ]
    sqs = aws.client("sqs")
    refused: list[str] = []
    for batch_start in range(0, len(messages), 10):
        batch = messages[batch_start : batch_start + 10]
        try:
            reply = sqs.send_message_batch(QueueUrl=ctx.user.settings.bulk_queue_url, Entries=batch)
            failed = {f["Id"] for f in reply.get("Failed", [])}
        except (ClientError, BotoCoreError):
            failed = {m["Id"] for m in batch}
        for message in batch:
            if message["Id"] in failed:
                refused.extend(json.loads(message["MessageBody"])["invoice_ids"])
    if refused:
        get_logger(ctx.user.settings.log_level).error(
            "bulk send not queued", extra={"fields": {"job_id": job_id, "ids": len(refused)}}
        )
        _abandon(
            ctx, job_id, refused, "the send could not be queued; nothing was sent, retry these"
        )


# =============================================================================
# download
# =============================================================================


def download(ctx: Context, body: BulkActionRequest) -> BulkActionResult:
    """The invoices' PDFs in one zip stored under the organization's prefix, with a
    presigned URL; nothing is stored when no id is the organization's."""
    ids = [str(i) for i in body.ids]
    results: list[BulkItemResult] = []
    buffer = io.BytesIO()
    names: set[str] = set()
    documents = load_invoice_documents(ctx.db, str(ctx.organization_id), ids)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for invoice_id in ids:
            document = documents.get(invoice_id)
            if document is None:
                results.append(
                    BulkItemResult(
                        id=UUID(invoice_id),
                        status="not_found",
                        message="no such invoice in this organization",
                    )
                )
                continue
            name = _unique_name(sending.pdf_file_name(document["invoice_number"]), names)
            archive.writestr(name, render_invoice_pdf(document))
            results.append(BulkItemResult(id=UUID(invoice_id), status="ok", message=name))
    if not any(r.status == "ok" for r in results):
        return bulk_result("download", results)
    url, key, expires = _store_zip(ctx, buffer.getvalue())
    return bulk_result("download", results, download_url=url, expires_at=expires, key=key)


def _store_zip(ctx: Context, content: bytes) -> tuple[str, str, dt.datetime]:
    """Puts the zip in the exports bucket: its presigned URL, key and expiry."""
    settings = ctx.user.settings
    now = dt.datetime.now(dt.UTC)
    key = (
        f"{ctx.organization_id}/invoices/{now:%Y/%m}/"
        f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}-invoices.zip"
    )
    s3 = aws.client("s3")
    try:
        s3.put_object(
            Bucket=settings.exports_bucket,
            Key=key,
            Body=content,
            ContentType="application/zip",
            ContentDisposition='attachment; filename="invoices.zip"',
        )
        url = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": settings.exports_bucket, "Key": key},
            ExpiresIn=settings.presigned_url_seconds,
        )
    except (ClientError, BotoCoreError):
        raise ApiError(
            503,
            "service_unavailable",
            "the zip could not be stored; nothing was kept, retry shortly",
            headers={"Retry-After": "5"},
        ) from None
    return url, key, now + dt.timedelta(seconds=settings.presigned_url_seconds)


def _unique_name(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{stem}-{n}{dot}{extension}"
        n += 1
    taken.add(candidate)
    return candidate
