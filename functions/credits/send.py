"""POST /api/credit-notes/{id}/send: emails a credit note (its PDF attached) through SES.

The path of POST /api/invoices/{id}/send and of quotes: on success, in one transaction
(``mark_credit_note_sent``), sent_at, the send on the client's timeline with its SES
message id, and the Idempotency-Key's answer stored; on an SES failure nothing is marked
and the key is given back. A function of its own: SES, fonts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from functions.credits import PathId, error_responses
from shared import db, sending
from shared import email as mail
from shared.api import make_handler
from shared.context import Member
from shared.documents import load_credit_note_document
from shared.errors import ApiError, not_found
from shared.idempotency import Idempotency
from shared.log import get_logger
from shared.models.credits import CreditNoteSendResult
from shared.models.delivery import InvoiceSend

router = APIRouter(tags=["credit notes"])


@router.post(
    "/api/credit-notes/{id}/send",
    response_model=CreditNoteSendResult,
    summary="Email a credit note with its PDF",
    description=(
        "Body (all optional): `to` (default the client's email), `cc`, `bcc` (each at most "
        "10 addresses), `subject`, `message`. Sending again sends again (`sent_at` keeps the "
        "first send). An `Idempotency-Key` header makes retries safe, as for invoices."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def send_credit_note(
    idempotency: Idempotency,
    ctx: Member,
    credit_note_id: PathId,
    body: Annotated[InvoiceSend | None, Body()] = None,
) -> Any:
    request = body or InvoiceSend.model_validate({})
    org = str(ctx.organization_id)
    replay = await idempotency.begin(
        ctx,
        f"POST /api/credit-notes/{credit_note_id}/send",
        [str(credit_note_id), request.to_json()],
        CreditNoteSendResult,
        unknown="the first request with this Idempotency-Key stopped before finishing and "
        "may have sent the email; check the credit note before sending again with a new key",
    )
    if replay is not None:
        return replay
    with idempotency.held():
        document = load_credit_note_document(ctx.db, org, credit_note_id)
        if document is None:
            raise not_found("credit note")
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
        composed = sending.compose_credit_note(
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
        idempotency.keep()  # emailed: a retry under the key must never send again
        try:
            answer = db.rpc(
                ctx.db,
                "mark_credit_note_sent",
                {
                    "organization_id": org,
                    "credit_note_id": str(credit_note_id),
                    "ses_message_id": message_id,
                    "recipients": composed.recipients(),
                    "subject": composed.subject,
                    "idempotency_key": idempotency.key,
                },
            )
        except BaseException:
            get_logger(ctx.user.settings.log_level).error(
                "credit note emailed but not recorded",
                extra={"fields": {"credit_note_id": str(credit_note_id)}},
            )
            raise
    return CreditNoteSendResult.model_validate(answer)


handler = make_handler(router)
