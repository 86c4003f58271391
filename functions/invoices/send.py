"""POST /api/invoices/{id}/send: emails an invoice (its PDF attached) through SES.

On success, in one transaction (``mark_invoice_sent``): the send recorded with its SES
message id, a draft moved to sent (a re-send keeps the status), an ``invoice_sent``
activity, and the Idempotency-Key's answer stored. On an SES failure nothing is marked
and the key is given back, so the caller can retry. A paid invoice is sent as a receipt;
a cancelled one is refused (docs/api.md, "Sending and bulk actions").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from functions.invoices import InvoiceId, error_responses
from shared import db, portal, sending
from shared import email as mail
from shared.api import make_handler
from shared.context import Member
from shared.documents import load_invoice_document
from shared.errors import ApiError, not_found
from shared.idempotency import Idempotency
from shared.log import get_logger
from shared.models.delivery import InvoiceSend, InvoiceSendResult

router = APIRouter(tags=["invoices"])


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
    idempotency: Idempotency,
    ctx: Member,
    invoice_id: InvoiceId,
    body: Annotated[InvoiceSend | None, Body()] = None,
) -> Any:
    request = body or InvoiceSend.model_validate({})
    org = str(ctx.organization_id)
    replay = await idempotency.begin(
        ctx,
        f"POST /api/invoices/{invoice_id}/send",
        [str(invoice_id), request.to_json()],
        InvoiceSendResult,
        unknown="the first request with this Idempotency-Key stopped before finishing and "
        "may have sent the email; check the invoice before sending again with a new key",
    )
    if replay is not None:
        return replay
    with idempotency.held():
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
        link = portal.link_for_send(ctx.db, str(org), "invoice", str(invoice_id))
        composed = sending.compose(
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
                "mark_invoice_sent",
                {
                    "organization_id": org,
                    "invoice_id": str(invoice_id),
                    "ses_message_id": message_id,
                    "recipients": composed.recipients(),
                    "subject": composed.subject,
                    "kind": composed.kind,
                    "idempotency_key": idempotency.key,
                },
            )
        except BaseException:
            get_logger(ctx.user.settings.log_level).error(
                "invoice emailed but not recorded",
                extra={"fields": {"invoice_id": str(invoice_id)}},
            )
            raise
    return InvoiceSendResult.model_validate(answer)


handler = make_handler(router)
