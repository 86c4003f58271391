"""POST /api/invoices/bulk-actions: one action over 1 to 500 invoices, a result per id.

- ``mark_sent``, ``mark_paid``, ``cancel``, ``delete``: one SQL function
  (``bulk_invoice_action``), one transaction, set-based.
- ``send``: a bulk job records every id (``create_bulk_send``); up to
  `shared.sending.INLINE_SEND_LIMIT` are emailed during the request (200), more are
  queued on SQS for `functions.jobs.bulk_worker` (202 with the job id; progress at
  ``GET /api/invoices/bulk-actions/{id}``). An inline send first queues one message for
  its items, delayed past the request's end (`_safety_delay`): a request cut off mid-way
  (a Lambda timeout, a crash) is finished by the worker, which finds the items already
  settled when it was not. It also stops claiming before the Lambda's deadline and leaves
  the rest to that message (202). Best effort: without SQS the inline send still works.
- ``download``: the PDFs in a zip in S3 under the organization's prefix, answered with a
  presigned URL.

Ids of another organization are ``not_found``, like ids that do not exist.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from functions.invoices import error_responses
from shared import aws, db, sending
from shared.api import make_handler
from shared.context import Context, Member
from shared.documents import load_invoice_documents
from shared.errors import ApiError
from shared.log import get_logger
from shared.models.delivery import BulkActionRequest, BulkActionResult, BulkItemResult
from shared.pdf import render_invoice_pdf

router = APIRouter(tags=["invoices"])

# serverless.yml's timeout of invoicesBulkActions (tests/api/test_bulk_worker_cut_off.py
# checks it): how long an inline send may run when no Lambda context says so.
ROUTE_TIMEOUT_SECONDS = 29
# The safety message of an inline send becomes visible this long after the invocation's
# deadline at the earliest.
SAFETY_DELAY_MARGIN_SECONDS = 30
# An inline send stops claiming this long before the Lambda's deadline (the answer still
# has to be read and sent back); the items not reached are left to the safety message.
INLINE_MARGIN_SECONDS = 5.0


def _summary(results: list[BulkItemResult]) -> dict[str, int]:
    counts = Counter(r.status for r in results)
    return {"requested": len(results), **dict(sorted(counts.items()))}


def _result(action: str, results: list[BulkItemResult], **extra: Any) -> BulkActionResult:
    return BulkActionResult.model_validate(
        {"action": action, "results": results, "summary": _summary(results), **extra}
    )


@router.post(
    "/api/invoices/bulk-actions",
    response_model=BulkActionResult,
    summary="One action over many invoices",
    description=(
        "Body `{action, ids, ...}`: `action` one of send, mark_sent, mark_paid, cancel, "
        "delete, download; `ids` 1 to 500 distinct invoice ids. Send takes `cc`, `bcc`, "
        "`subject`, `message`; mark_paid `payment_date`, `payment_method`, "
        "`reference_number`, `notes`. Each id gets a result: `ok` or a reason "
        "(not_found, wrong_status, has_payments, no_email, send_failed). Sends of more "
        f"than {sending.INLINE_SEND_LIMIT} invoices are queued: 202 with `job_id`. A "
        "smaller send is made during the request (200); if the request runs short of time "
        "the items it did not reach stay `pending` and are sent from the queue: 202, "
        "`queued` true, with `job_id`."
    ),
    responses={
        **error_responses(400, 401, 403, 422),
        202: {
            "model": BulkActionResult,
            "description": "A send queued (or, inline, its rest); see job_id",
            "headers": {
                "Location": {
                    "description": "The job: /api/invoices/bulk-actions/{job_id}",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        },
    },
)
async def bulk_action(ctx: Member, body: BulkActionRequest, request: Request) -> Any:
    if body.action == "send":
        return _send(ctx, body, sending.lambda_time_left(request.scope.get("aws.context")))
    if body.action == "download":
        return _download(ctx, body)
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
    return _result(body.action, results)


# =============================================================================
# send
# =============================================================================


def _item_result(item: dict[str, Any]) -> BulkItemResult:
    status = item["status"]
    if status == "failed":
        status = item.get("reason") or "send_failed"
    return BulkItemResult.model_validate(
        {"id": item["invoice_id"], "status": status, "message": item.get("message")}
    )


def _safety_delay(ctx: Context, time_left: Callable[[], float] | None) -> int:
    """Seconds the safety message waits: past this invocation's deadline (its remaining
    time, or the route's timeout) plus a margin, at most SQS's 900;
    ``BULK_INLINE_SAFETY_DELAY_SECONDS`` when set."""
    configured = ctx.user.settings.bulk_inline_safety_delay_seconds
    if configured is not None:
        return configured
    remaining = time_left() if time_left is not None else ROUTE_TIMEOUT_SECONDS
    return min(900, math.ceil(remaining) + SAFETY_DELAY_MARGIN_SECONDS)


def _send(ctx: Context, body: BulkActionRequest, time_left: Callable[[], float] | None) -> Any:
    settings = ctx.user.settings
    org = str(ctx.organization_id)
    ids = [str(i) for i in body.ids]
    options = body.send_options()
    queued = len(ids) > sending.INLINE_SEND_LIMIT
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
    if not queued:
        safety = bool(pending) and _enqueue_safety(ctx, job_id, pending, time_left)
        progress = sending.process_bulk_items(
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
            db.rpc(
                ctx.db,
                "abandon_bulk_items",
                {
                    "organization_id": org,
                    "job_id": job_id,
                    "ids": progress.retry,
                    "reason": "send_failed",
                    "message": "the request ran out of time before this one; nothing was "
                    "sent, retry it",
                },
            )
        items = _job_items(ctx, job_id)
        left = any(i["status"] in ("pending", "sending") for i in items)
        if not (safety and left):
            return _result("send", [_item_result(i) for i in items], job_id=job_id)
    else:
        _enqueue(ctx, job_id, pending)
        items = _job_items(ctx, job_id)
    result = _result("send", [_item_result(i) for i in items], job_id=job_id, queued=True)
    return JSONResponse(
        result.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/invoices/bulk-actions/{job_id}"},
    )


def _job_items(ctx: Context, job_id: str) -> list[dict[str, Any]]:
    rows = db.run(
        ctx.db.from_("bulk_job_items")
        .select("invoice_id,status,reason,message")
        .eq("job_id", job_id)
        .eq("organization_id", str(ctx.organization_id))
        .order("position")
    ).data
    return list(rows or [])


def _enqueue_safety(
    ctx: Context, job_id: str, pending: list[str], time_left: Callable[[], float] | None
) -> bool:
    """One delayed message for an inline send's pending ids (the shape `_enqueue` uses:
    they are at most `sending.INLINE_SEND_LIMIT`, one message's worth); True when queued.
    Best effort: without a queue, or with SQS away, the send goes on inline."""
    settings = ctx.user.settings
    if not settings.bulk_queue_url:
        return False
    try:
        aws.client("sqs").send_message(
            QueueUrl=settings.bulk_queue_url,
            MessageBody=json.dumps({"job_id": job_id, "invoice_ids": pending}),
            DelaySeconds=_safety_delay(ctx, time_left),
        )
    except (ClientError, BotoCoreError) as error:
        get_logger(settings.log_level).warning(
            "bulk send safety message not queued; sending inline only",
            extra={"fields": {"job_id": job_id, "error": type(error).__name__}},
        )
        return False
    return True


def _enqueue(ctx: Context, job_id: str, pending: list[str]) -> None:
    """One message per `sending.IDS_PER_MESSAGE` pending ids, ten messages per call."""
    messages = [
        {"Id": str(n), "MessageBody": json.dumps({"job_id": job_id, "invoice_ids": chunk})}
        for n, chunk in enumerate(sending.chunks(pending, sending.IDS_PER_MESSAGE))
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
        db.rpc(
            ctx.db,
            "abandon_bulk_items",
            {
                "organization_id": str(ctx.organization_id),
                "job_id": job_id,
                "ids": refused,
                "reason": "send_failed",
                "message": "the send could not be queued; nothing was sent, retry these",
            },
        )


# =============================================================================
# download
# =============================================================================


def _download(ctx: Context, body: BulkActionRequest) -> BulkActionResult:
    settings = ctx.user.settings
    ids = [str(i) for i in body.ids]
    org = str(ctx.organization_id)
    results: list[BulkItemResult] = []
    buffer = io.BytesIO()
    names: set[str] = set()
    documents = load_invoice_documents(ctx.db, org, ids)
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
            name = _unique_name(f"{sending._file_name(document['invoice_number'])}.pdf", names)
            archive.writestr(name, render_invoice_pdf(document))
            results.append(BulkItemResult(id=UUID(invoice_id), status="ok", message=name))
    if not any(r.status == "ok" for r in results):
        return _result("download", results)
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
            Body=buffer.getvalue(),
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
    expires = now + dt.timedelta(seconds=settings.presigned_url_seconds)
    return _result("download", results, download_url=url, expires_at=expires, key=key)


def _unique_name(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{stem}-{n}{dot}{extension}"
        n += 1
    taken.add(candidate)
    return candidate


handler = make_handler(router)
