"""POST /api/quotes/{id}/send: emails a quote (its PDF attached) through SES.

The path of POST /api/invoices/{id}/send: on success, in one transaction
(``mark_quote_sent``), a draft moved to sent (a re-send keeps the status), the send on
the client's timeline with its SES message id, and the Idempotency-Key's answer stored; on
an SES failure nothing is marked and the key is given back. Declined, expired and
converted quotes are refused (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from functions.quotes import QuoteId, error_responses
from shared import db, portal, sending
from shared import email as mail
from shared.api import make_handler
from shared.context import Member
from shared.documents import load_quote_document
from shared.errors import ApiError, not_found
from shared.idempotency import Idempotency
from shared.log import get_logger
from shared.models.delivery import InvoiceSend
from shared.models.quotes import QuoteSendResult

router = APIRouter(tags=["quotes"])


@router.post(
    "/api/quotes/{id}/send",
    response_model=QuoteSendResult,
    summary="Email a quote with its PDF",
    description=(
        "Body (all optional): `to` (default the client's email), `cc`, `bcc` (each at most "
        "10 addresses), `subject`, `message`. A draft becomes sent; a sent or accepted quote "
        "is sent again; declined, expired and converted quotes are refused (422). An "
        "`Idempotency-Key` header makes retries safe, as for invoices."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def send_quote(
    idempotency: Idempotency,
    ctx: Member,
    quote_id: QuoteId,
    body: Annotated[InvoiceSend | None, Body()] = None,
) -> Any:
    request = body or InvoiceSend.model_validate({})
    org = str(ctx.organization_id)
    replay = await idempotency.begin(
        ctx,
        f"POST /api/quotes/{quote_id}/send",
        [str(quote_id), request.to_json()],
        QuoteSendResult,
        unknown="the first request with this Idempotency-Key stopped before finishing and "
        "may have sent the email; check the quote before sending again with a new key",
    )
    if replay is not None:
        return replay
    with idempotency.held():
        document = load_quote_document(ctx.db, org, quote_id)
        if document is None:
            raise not_found("quote")
        if document["status"] in ("declined", "expired", "converted"):
            raise ApiError(
                422,
                "rule_violation",
                f"quote {document['quote_number']} is {document['status']} and cannot be sent",
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
        link = portal.link_for_send(ctx.db, str(org), "quote", str(quote_id))
        composed = sending.compose_quote(
            document,
            ctx.user.settings,
            to=to,
            cc=request.cc,
            bcc=request.bcc,
            subject=request.subject,
            message=request.message,
            client_link=link,
        )
        try:
            message_id = sending.send(composed, ctx.user.settings, document)
        except mail.EmailFailure as failure:
            raise sending.email_error(failure) from failure
        idempotency.keep()  # emailed: a retry under the key must never send again
        try:
            answer = db.rpc(
                ctx.db,
                "mark_quote_sent",
                {
                    "organization_id": org,
                    "quote_id": str(quote_id),
                    "ses_message_id": message_id,
                    "recipients": composed.recipients(),
                    "subject": composed.subject,
                    "idempotency_key": idempotency.key,
                },
            )
        except BaseException:
            get_logger(ctx.user.settings.log_level).error(
                "quote emailed but not recorded",
                extra={"fields": {"quote_id": str(quote_id)}},
            )
            raise
    return QuoteSendResult.model_validate(answer)


handler = make_handler(router)
