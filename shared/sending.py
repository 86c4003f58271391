"""Emailing an invoice: the message composed (templates, PDF attached), sent through SES
and recorded in the database; and a bulk send's items processed, for the API (a few at
once) and the queue worker (the rest) alike.

The database is the record of what was sent: a bulk item is claimed (pending ->
sending) before its email goes out and marked ok in the transaction that records the
send (``mark_invoice_sent``), so a message delivered twice or a rerun after a timeout
never emails an invoice twice (docs/api.md, "Sending and bulk actions").

Only the functions that send import this module (it pulls in Jinja2, boto3 and the PDF
library).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared import db
from shared import email as mail
from shared.documents import load_invoice_document
from shared.errors import ApiError
from shared.formatting import format_date, format_money
from shared.log import get_logger
from shared.pdf import render_invoice_pdf
from shared.settings import Settings

# Sends at or below this many ids are made during the request; more are queued.
INLINE_SEND_LIMIT = 10
# Invoice ids per queue message (a message is one unit of retry for the worker).
IDS_PER_MESSAGE = 10


@dataclass(frozen=True)
class Composed:
    raw: bytes
    subject: str
    kind: str  # invoice | receipt
    to: list[str]
    cc: list[str]
    bcc: list[str]

    @property
    def destinations(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]

    def recipients(self) -> dict[str, list[str]]:
        return {"to": self.to, "cc": self.cc, "bcc": self.bcc}


def client_email(document: dict[str, Any]) -> str | None:
    value = (document.get("client") or {}).get("email")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def default_subject(document: dict[str, Any], kind: str) -> str:
    business = document["business"]["name"] or "us"
    number = document["invoice_number"]
    if kind == "receipt":
        return f"Receipt for invoice {number} from {business}"
    return f"Invoice {number} from {business}"


def sender_for(settings: Settings, document: dict[str, Any]) -> tuple[str, str]:
    """The From header ("Business <invoices@...>") and the SES source address."""
    _, source = email.utils.parseaddr(settings.email_from)
    name = document["business"]["name"] or email.utils.parseaddr(settings.email_from)[0]
    return mail.address(source, name or None), source


def compose(
    document: dict[str, Any],
    settings: Settings,
    *,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str | None = None,
    message: str | None = None,
) -> Composed:
    """The email of an invoice (a receipt when it is paid) with its PDF attached."""
    kind = "receipt" if document.get("status") == "paid" else "invoice"
    business = document["business"]
    currency = document["currency"]
    reply_to = business.get("business_email") or None
    subject = subject or default_subject(document, kind)
    client = document.get("client") or {}
    html, text = mail.render(
        "invoice",
        business_name=business["name"] or "",
        client_name=client.get("contact_person") or client.get("company_name") or "",
        invoice_number=document["invoice_number"],
        issue_date=format_date(document["issue_date"]),
        due_date=format_date(document["due_date"]) if document.get("due_date") else "",
        total=format_money(document["total_amount"], currency),
        balance_due=format_money(document["balance_due"], currency),
        message=message or "",
        is_receipt=kind == "receipt",
        footer=business.get("invoice_footer") or "",
        reply_to=reply_to or "",
    )
    pdf = render_invoice_pdf(document)
    sender, _ = sender_for(settings, document)
    raw = mail.build_raw(
        sender=sender,
        to=list(to),
        cc=list(cc),
        reply_to=reply_to,
        subject=subject,
        html=html,
        text=text,
        attachments=[mail.Attachment(f"{_file_name(document['invoice_number'])}.pdf", pdf)],
    )
    return Composed(raw, subject, kind, list(to), list(cc), list(bcc))


def _file_name(number: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in number).strip("-.")
    return f"invoice-{safe or 'document'}"


def send(composed: Composed, settings: Settings, document: dict[str, Any]) -> str:
    """Sends through SES; the message id, or `shared.email.EmailFailure`."""
    _, source = sender_for(settings, document)
    return mail.send_raw(composed.raw, source=source, destinations=composed.destinations)


def email_error(failure: mail.EmailFailure) -> ApiError:
    """The API's answer to a failed send (nothing was sent, nothing marked)."""
    details = {"reason": failure.code, "retryable": failure.retryable}
    if failure.retryable:
        return ApiError(
            503,
            "service_unavailable",
            f"{failure.message}; nothing was sent and the invoice is unchanged",
            details=details,
            headers={"Retry-After": "5"},
        )
    if failure.code in ("recipient_rejected", "rejected"):
        return ApiError(
            422,
            "email_rejected",
            f"{failure.message}; nothing was sent and the invoice is unchanged",
            details=details,
        )
    # Our side (an unverified sender, sending paused): not the caller's to fix.
    return ApiError(
        503,
        "service_unavailable",
        f"{failure.message}; nothing was sent and the invoice is unchanged",
        details=details,
    )


# =============================================================================
# Bulk sends
# =============================================================================


@dataclass
class BulkProgress:
    sent: int = 0
    failed: int = 0
    retry: list[str] = field(default_factory=list)  # ids the message must come back for


class _Skip(Exception):
    """An item that is not sent, with its reason."""

    def __init__(self, reason: str, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry = retry


def _prepare(
    client: Any,
    settings: Settings,
    org: str,
    invoice_id: str,
    options: dict[str, Any],
) -> tuple[dict[str, Any], Composed]:
    """The item's document and email, or `_Skip` saying why it is not sent."""
    document = load_invoice_document(client, org, invoice_id)
    if document is None:
        raise _Skip("not_found", "no such invoice in this organization")
    number = document["invoice_number"]
    if document["status"] in ("cancelled", "paid"):
        raise _Skip("wrong_status", f"invoice {number} is {document['status']}")
    to = client_email(document)
    if to is None:
        name = (document.get("client") or {}).get("company_name")
        raise _Skip("no_email", f"client {name} has no email address (client.email)")
    composed = compose(
        document,
        settings,
        to=[to],
        cc=options.get("cc") or [],
        bcc=options.get("bcc") or [],
        subject=options.get("subject"),
        message=options.get("message"),
    )
    return document, composed


def process_bulk_items(
    client: Any,
    settings: Settings,
    *,
    organization_id: UUID | str,
    job_id: UUID | str,
    invoice_ids: Sequence[str],
    options: dict[str, Any],
    may_retry: bool,
    time_left: Callable[[], float] = lambda: 3600.0,
    margin_seconds: float = 5.0,
) -> BulkProgress:
    """Sends the pending items among ``invoice_ids`` of a job, each at most once.

    Each item is claimed (pending -> sending) just before its email is made, one at a
    time, so an invocation cut off (a Lambda timeout, a crash) leaves at most the one item
    it was sending in doubt; the others stay pending for the next delivery. That item, still
    "sending" once ``settings.bulk_claim_stale_seconds`` have passed, is failed as
    interrupted by the next claim, never sent again.

    ``may_retry``: a throttled or unavailable email service (or database) puts the item
    back to pending (the queue redelivers the message) instead of failing it. Items not
    reached before ``time_left()`` drops under the margin are left pending, and so are
    retried too. ``BulkProgress.retry`` also names the items still "sending" at the end
    (another invocation's, or this one's sent but not recorded): the message must come back
    until they are settled, or the job would never finish.
    """
    org, job = str(organization_id), str(job_id)
    log = get_logger(settings.log_level)
    progress = BulkProgress()
    stale_after = f"{int(settings.bulk_claim_stale_seconds)} seconds"

    def fail(invoice_id: str, skip: _Skip) -> None:
        db.rpc(
            client,
            "fail_bulk_item",
            {
                "organization_id": org,
                "job_id": job,
                "invoice_id": invoice_id,
                "reason": skip.reason,
                "message": skip.message,
                "retry": skip.retry,
            },
        )
        if skip.retry:
            progress.retry.append(invoice_id)
        else:
            progress.failed += 1

    for invoice_id in dict.fromkeys(str(i) for i in invoice_ids):
        if time_left() < margin_seconds:
            progress.retry.append(invoice_id)  # not claimed: still pending
            continue
        claimed = db.rpc(
            client,
            "claim_bulk_items",
            {
                "organization_id": org,
                "job_id": job,
                "ids": [invoice_id],
                "stale_after": stale_after,
            },
        )
        if not claimed:
            continue  # done already, or another invocation's (see the end)
        try:
            document, composed = _prepare(client, settings, org, invoice_id, options)
            try:
                message_id = send(composed, settings, document)
            except mail.EmailFailure as failure:
                raise _Skip(
                    "send_failed", failure.message, retry=may_retry and failure.retryable
                ) from failure
        except _Skip as skip:
            fail(invoice_id, skip)
            continue
        except ApiError as error:  # the database refused or is away
            retry = may_retry and error.status >= 500
            fail(invoice_id, _Skip("send_failed", error.message, retry=retry))
            continue
        except Exception:
            log.exception("bulk item failed", extra={"fields": {"job": job, "id": invoice_id}})
            fail(invoice_id, _Skip("send_failed", "the email could not be prepared"))
            continue
        # Sent: from here on the item must never be sent again. If recording fails,
        # the item stays "sending" and is later failed as interrupted, never resent.
        try:
            db.rpc(
                client,
                "mark_invoice_sent",
                {
                    "organization_id": org,
                    "invoice_id": invoice_id,
                    "ses_message_id": message_id,
                    "recipients": composed.recipients(),
                    "subject": composed.subject,
                    "kind": composed.kind,
                    "bulk_job_id": job,
                },
            )
        except ApiError as error:
            log.error(
                "sent but not recorded",
                extra={
                    "fields": {"job": job, "id": invoice_id, "ses": message_id, "code": error.code}
                },
            )
            continue
        progress.sent += 1
    waiting = set(progress.retry)
    unsettled = [i for i in invoice_ids if str(i) not in waiting]
    if unsettled:
        held = db.run(
            client.from_("bulk_job_items")
            .select("invoice_id")
            .eq("job_id", job)
            .eq("organization_id", org)
            .eq("status", "sending")
            .in_("invoice_id", unsettled)
        ).data
        progress.retry.extend(str(row["invoice_id"]) for row in held or [])
    return progress


def lambda_time_left(context: Any) -> Callable[[], float] | None:
    """The Lambda invocation's remaining seconds, read from its ``context`` (the handler's
    argument, or Mangum's ``aws.context`` in the ASGI scope); None outside Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return lambda: float(remaining()) / 1000.0


def chunks(values: Sequence[str], size: int) -> list[list[str]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]
