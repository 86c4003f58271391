"""A bulk send's items, each emailed at most once: the invoices send route's inline
part (a few ids, during the request) and the queue worker's (the rest) make them alike.

The database is the record of what was sent: an item is claimed (pending -> sending)
before its email goes out and marked ok in the transaction that records the send
(``mark_invoice_sent``), so a message delivered twice or a rerun after a timeout never
emails an invoice twice (docs/api.md, "Sending and bulk actions"). Each email is
`shared.sending`'s (composed, then ``sending.send``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared import db, portal, sending
from shared import email as mail
from shared.documents import load_invoice_document
from shared.errors import ApiError
from shared.lambda_context import TimeLeft
from shared.log import get_logger
from shared.settings import Settings

# Sends at or below this many ids are made during the request; more are queued.
INLINE_SEND_LIMIT = 10
# Invoice ids per queue message (a message is one unit of retry for the worker).
IDS_PER_MESSAGE = 10


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
) -> tuple[dict[str, Any], sending.Composed]:
    """The item's document and email, or `_Skip` saying why it is not sent."""
    document = load_invoice_document(client, org, invoice_id)
    if document is None:
        raise _Skip("not_found", "no such invoice in this organization")
    number = document["invoice_number"]
    if document["status"] in ("cancelled", "paid"):
        raise _Skip("wrong_status", f"invoice {number} is {document['status']}")
    to = sending.client_email(document)
    if to is None:
        name = (document.get("client") or {}).get("company_name")
        raise _Skip("no_email", f"client {name} has no email address (client.email)")
    link = portal.link_for_send(client, org, "invoice", invoice_id)
    composed = sending.compose(
        document,
        settings,
        to=[to],
        cc=options.get("cc") or [],
        bcc=options.get("bcc") or [],
        subject=options.get("subject"),
        message=options.get("message"),
        client_link=link,
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
    time_left: TimeLeft = lambda: 3600.0,
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
                message_id = sending.send(composed, settings, document)
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


def chunks(values: Sequence[str], size: int) -> list[list[str]]:
    """``values`` in lists of ``size`` (the last shorter): the ids of each queue message."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]
