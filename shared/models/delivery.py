"""Models of sending and bulk actions (docs/api.md, "Sending and bulk actions")."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.fields import EMAIL_PATTERN, blank_to_none, sendable_email_address
from shared.models import DocumentedPattern, Input, Output
from shared.models.common import unique_ids
from shared.models.invoices import Invoice

MAX_BULK_IDS = 500
MAX_RECIPIENTS = 10  # per list; SES takes 50 in all
_LINE_BREAK = re.compile(r"[\r\n\x00-\x1f\x7f\u2028\u2029]")


def _one_line(value: str) -> str:
    if _LINE_BREAK.search(value):
        raise PydanticCustomError("one_line", "must be one line, without control characters")
    return value


EmailAddress = Annotated[
    str,
    Field(min_length=3, max_length=320),
    AfterValidator(sendable_email_address),
    DocumentedPattern(EMAIL_PATTERN),
]
Recipients = Annotated[list[EmailAddress], Field(max_length=MAX_RECIPIENTS)]
Subject = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
Message = Annotated[str, Field(max_length=5000), AfterValidator(blank_to_none)]


def _no_repeats(values: list[str], where: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError(
                "unique_recipients",
                "{address} is listed twice ({where})",
                {"address": value, "where": where},
            )
        seen.add(value)


class SendOptions(Input):
    """What a bulk send takes (the recipients are each invoice's client)."""

    cc: Recipients = Field(default_factory=list, description="Copies, to every email")
    bcc: Recipients = Field(default_factory=list, description="Blind copies, to every email")
    subject: Subject | None = Field(None, description='Default "Invoice <number> from <business>"')
    message: Message | None = Field(None, description="A message above the invoice summary")

    @model_validator(mode="after")
    def _distinct(self) -> SendOptions:
        _no_repeats([*self.cc, *self.bcc], "cc and bcc")
        return self


class InvoiceSend(SendOptions):
    """``POST /api/invoices/{id}/send``: every field optional."""

    to: Recipients | None = Field(
        None, min_length=1, description="Recipients; default the client's email"
    )

    @model_validator(mode="after")
    def _distinct_all(self) -> InvoiceSend:
        _no_repeats([*(self.to or []), *self.cc, *self.bcc], "to, cc and bcc")
        return self


PaymentMethod = Literal["bank_transfer", "credit_card", "paypal", "check", "cash", "other"]
BulkAction = Literal["send", "mark_sent", "mark_paid", "cancel", "delete", "download"]


class BulkActionRequest(Input):
    """``POST /api/invoices/bulk-actions``."""

    action: BulkAction
    ids: list[UUID] = Field(
        min_length=1, max_length=MAX_BULK_IDS, description=f"1 to {MAX_BULK_IDS} distinct ids"
    )
    # send
    cc: Recipients | None = None
    bcc: Recipients | None = None
    subject: Subject | None = None
    message: Message | None = None
    # mark_paid
    payment_date: dt.date | None = None
    payment_method: PaymentMethod | None = None
    reference_number: Annotated[str, Field(max_length=100)] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None

    @field_validator("ids")
    @classmethod
    def _unique(cls, ids: list[UUID]) -> list[UUID]:
        return unique_ids(ids)

    @model_validator(mode="after")
    def _options_fit_the_action(self) -> BulkActionRequest:
        send = ("cc", "bcc", "subject", "message")
        paid = ("payment_date", "payment_method", "reference_number", "notes")
        allowed = {"send": send, "mark_paid": paid}.get(self.action, ())
        for name in (*send, *paid):
            if name in self.model_fields_set and name not in allowed:
                raise PydanticCustomError(
                    "option_not_allowed",
                    "{field} is not an option of {action}",
                    {"field": name, "action": self.action},
                )
        if self.action == "send":
            _no_repeats([*(self.cc or []), *(self.bcc or [])], "cc and bcc")
        return self

    def send_options(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "cc": self.cc or [],
                "bcc": self.bcc or [],
                "subject": self.subject,
                "message": self.message,
            }.items()
            if v
        }

    def payment_options(self) -> dict[str, Any]:
        values = {
            "payment_date": self.payment_date.isoformat() if self.payment_date else None,
            "payment_method": self.payment_method,
            "reference_number": self.reference_number,
            "notes": self.notes,
        }
        return {k: v for k, v in values.items() if v is not None}


# =============================================================================
# Responses
# =============================================================================


class SendRecipients(Output):
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)


class InvoiceSendRecord(Output):
    id: UUID
    invoice_id: UUID
    kind: Literal["invoice", "receipt"]
    recipients: SendRecipients
    subject: str
    ses_message_id: str
    sent_by: UUID | None = None
    sent_at: dt.datetime


class InvoiceSendResult(Output):
    send: InvoiceSendRecord
    invoice: Invoice


class BulkItemResult(Output):
    id: UUID
    status: str = Field(
        description=(
            "ok, or why not: not_found, wrong_status, has_payments, no_email, send_failed, "
            "interrupted; pending or sending while a queued send runs"
        )
    )
    message: str | None = None


class BulkActionResult(Output):
    action: BulkAction
    job_id: UUID | None = Field(None, description="For sends: GET /api/invoices/bulk-actions/{id}")
    queued: bool = False
    results: list[BulkItemResult]
    summary: dict[str, int]
    download_url: str | None = Field(None, description="For download: a presigned URL")
    expires_at: dt.datetime | None = None
    key: str | None = None


class BulkJob(Output):
    id: UUID
    action: Literal["send"]
    queued: bool
    state: Literal["queued", "running", "completed"]
    total: int
    done: int = Field(description="Items finished, ok or not")
    summary: dict[str, int]
    results: list[BulkItemResult]
    created_by: UUID | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


def bulk_item_result(item: dict[str, Any]) -> BulkItemResult:
    """A bulk job item (``bulk_job_items``) as its result: a failed item says why."""
    status = item["status"]
    if status == "failed":
        status = item.get("reason") or "send_failed"
    return BulkItemResult.model_validate(
        {"id": item["invoice_id"], "status": status, "message": item.get("message")}
    )


def bulk_summary(results: list[BulkItemResult]) -> dict[str, int]:
    """How many ids were requested, and how many of them by status."""
    counts = Counter(r.status for r in results)
    return {"requested": len(results), **dict(sorted(counts.items()))}


def bulk_result(action: str, results: list[BulkItemResult], **extra: Any) -> BulkActionResult:
    return BulkActionResult.model_validate(
        {"action": action, "results": results, "summary": bulk_summary(results), **extra}
    )


def _job_state(job: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """completed once nothing is pending or being sent; running once any item was taken
    up (ids decided when the job was made, such as not_found, do not count)."""
    if job.get("finished_at") or not any(i["status"] in ("pending", "sending") for i in items):
        return "completed"
    if any((i.get("attempts") or 0) > 0 for i in items):
        return "running"
    return "queued"


def bulk_job(row: dict[str, Any]) -> BulkJob:
    """A ``bulk_jobs`` row with its ``items`` (in position order) as the job's progress."""
    items: list[dict[str, Any]] = row.get("items") or []
    job = {key: value for key, value in row.items() if key != "items"}
    results = [bulk_item_result(item) for item in items]
    raw = Counter(item["status"] for item in items)
    return BulkJob.model_validate(
        {
            **job,
            "state": _job_state(job, items),
            "done": raw["ok"] + raw["failed"],
            "summary": bulk_summary(results),
            "results": results,
        }
    )
