"""POST /api/invoices/{id}/send: emails an invoice (its PDF attached) through SES.

On success, in one transaction (``mark_invoice_sent``): the send recorded with its SES
message id, a draft moved to sent (a re-send keeps the status), an ``invoice_sent``
activity, and the Idempotency-Key's answer stored. On an SES failure nothing is marked
and the key is given back, so the caller can retry. A paid invoice is sent as a receipt;
a cancelled one is refused (docs/api.md, "Sending and bulk actions").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse

from functions.invoices import InvoiceId, error_responses
from shared import db, sending
from shared import email as mail
from shared.api import make_handler
from shared.context import Context, Member
from shared.documents import load_invoice_document
from shared.errors import ApiError, not_found
from shared.log import get_logger
from shared.models.delivery import InvoiceSend, InvoiceSendResult

router = APIRouter(tags=["invoices"])

# How long a request waits for a concurrent one holding its Idempotency-Key.
WAIT_FOR_CONCURRENT_SECONDS = 8.0


def _fingerprint(invoice_id: str, body: InvoiceSend) -> str:
    content = json.dumps([invoice_id, body.to_json()], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def _replay(answer: dict[str, Any]) -> JSONResponse:
    # Through the response model, as the first answer went: the same JSON byte for byte.
    body = InvoiceSendResult.model_validate(answer.get("response")).model_dump(mode="json")
    return JSONResponse(
        body,
        status_code=int(answer.get("status") or 200),
        headers={"Idempotent-Replayed": "true"},
    )


async def _begin(ctx: Context, key: str, operation: str, fingerprint: str) -> JSONResponse | None:
    """Holds ``key`` for this request (None), or answers for it (a replay or an error)."""
    params = {
        "organization_id": str(ctx.organization_id),
        "key": key,
        "operation": operation,
        "fingerprint": fingerprint,
    }
    deadline = time.monotonic() + WAIT_FOR_CONCURRENT_SECONDS
    while True:
        answer = db.rpc(ctx.db, "begin_idempotent_request", params)
        outcome = answer.get("outcome")
        if outcome == "started":
            return None
        if outcome == "completed":
            return _replay(answer)
        if outcome == "mismatch":
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request",
                details=[{"in": "header", "field": "Idempotency-Key", "message": "reused"}],
            )
        if outcome == "unknown":
            raise ApiError(
                409,
                "conflict",
                "the first request with this Idempotency-Key stopped before finishing and may "
                "have sent the email; check the invoice before sending again with a new key",
            )
        if time.monotonic() >= deadline:
            raise ApiError(
                409,
                "conflict",
                "a request with this Idempotency-Key is still in progress; retry shortly",
                headers={"Retry-After": str(int(answer.get("retry_after") or 1))},
            )
        await asyncio.sleep(0.2)


@router.post(
    "/api/invoices/{id}/send",
    response_model=InvoiceSendResult,
    summary="Email an invoice with its PDF",
    description=(
        "Body (all optional): `to` (default the client's email), `cc`, `bcc` (each at most "
        "10 addresses), `subject`, `message`. Drafts become sent; sent and overdue invoices "
        "are sent again; paid ones are sent as a receipt; cancelled ones are refused (422). "
        "An `Idempotency-Key` header makes retries safe: the same key never sends twice and "
        "answers with the first result (header `Idempotent-Replayed: true`)."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def send_invoice(
    ctx: Member,
    invoice_id: InvoiceId,
    body: Annotated[InvoiceSend | None, Body()] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Retries with the same key never send twice",
        ),
    ] = None,
) -> Any:
    request = body or InvoiceSend.model_validate({})
    org = str(ctx.organization_id)
    key = idempotency_key.strip() if idempotency_key else None
    if key:
        early = await _begin(
            ctx,
            key,
            f"POST /api/invoices/{invoice_id}/send",
            _fingerprint(str(invoice_id), request),
        )
        if early is not None:
            return early
    sent = False
    try:
        document = load_invoice_document(ctx.db, org, invoice_id)
        if document is None:
            raise not_found("invoice")
        if document["status"] == "cancelled":
            raise ApiError(
                422,
                "rule_violation",
                f"invoice {document['invoice_number']} is cancelled and cannot be sent",
            )
        to = request.to or ([address] if (address := sending.client_email(document)) else [])
        if not to:
            name = (document.get("client") or {}).get("company_name")
            raise ApiError(
                422,
                "validation_failed",
                f"to: client {name} has no email address; set client.email or give `to`",
                details=[
                    {"in": "body", "field": "to", "message": "required: the client has no email"},
                    {"in": "client", "field": "client.email", "message": "missing"},
                ],
            )
        composed = sending.compose(
            document,
            ctx.user.settings,
            to=to,
            cc=request.cc,
            bcc=request.bcc,
            subject=request.subject,
            message=request.message,
        )
        try:
            message_id = sending.send(composed, ctx.user.settings, document)
        except mail.EmailFailure as failure:
            raise sending.email_error(failure) from failure
        sent = True
        answer = db.rpc(
            ctx.db,
            "mark_invoice_sent",
            {
                "organization_id": org,
                "invoice_id": str(invoice_id),
                "ses_message_id": message_id,
                "recipients": composed.recipients(),
                "subject": composed.subject,
                "kind": composed.kind,
                "idempotency_key": key,
            },
        )
    except BaseException:
        if key and not sent:
            _release(ctx, key)
        elif sent:
            get_logger(ctx.user.settings.log_level).error(
                "invoice emailed but not recorded",
                extra={"fields": {"invoice_id": str(invoice_id)}},
            )
        raise
    return InvoiceSendResult.model_validate(answer)


def _release(ctx: Context, key: str) -> None:
    # If this fails too, the key's lease runs out and a retry is told its outcome is unknown.
    with contextlib.suppress(ApiError):
        db.rpc(
            ctx.db,
            "release_idempotent_request",
            {"organization_id": str(ctx.organization_id), "key": key},
        )


handler = make_handler(router)
