"""Scheduled job (every 15 minutes): sends the overdue notices mark overdue queued.

One email per owner or admin and run of mark overdue, listing the invoices that became
overdue (``public.job_claim_notifications``: claimed with a lease, so two runs at once
never send the same notice; each send recorded at once with its SES message id). A
failed send stays queued for the next run (a permanent refusal, or 5 attempts, gives
up). Event: ``{}`` or EventBridge's; ``{"organization_ids": [...]}`` limits a run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared import email as mail
from shared.formatting import format_date, format_money
from shared.jobs import Job, JobEvent, Outcome, drain, send_email


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("notifications", context)
    asked = JobEvent.parse(event)
    params = asked.params()
    params.pop("as_of", None)

    def claim(skip: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = job.rpc(
            "job_claim_notifications",
            {**params, "batch_limit": asked.batch_limit, "skip_ids": skip},
        )
        return body

    return job.finish(drain(job, claim, lambda item: send_notice(job, item)))


def send_notice(job: Job, item: dict[str, Any]) -> Outcome:
    recipient = item.get("recipient")
    if not recipient:
        return Outcome(error="the member has no email address", retryable=False)
    business = str(item.get("business_name") or item.get("organization_name") or "")
    invoices = [
        {
            "invoice_number": invoice["invoice_number"],
            "client_name": invoice["client_name"],
            "due_date": format_date(invoice["due_date"]),
            "balance_due": format_money(Decimal(str(invoice["balance_due"])), invoice["currency"]),
            "status": invoice["status"],
        }
        for invoice in item.get("invoices") or []
    ]
    count = int(item.get("invoice_count") or len(invoices))
    totals = [
        format_money(Decimal(str(total["balance_due"])), total["currency"])
        for total in item.get("totals") or []
    ]
    html, text = mail.render(
        "overdue_notice",
        business_name=business,
        first_name=item.get("first_name"),
        invoice_count=count,
        invoices=invoices,
        more=max(0, count - len(invoices)),
        totals=totals,
        link=job.settings.app_url.rstrip("/") + "/invoices?status=overdue",
        footer=None,
    )
    if count == 1 and invoices:
        subject = (
            f"Invoice {invoices[0]['invoice_number']} is overdue ({invoices[0]['client_name']})"
        )
    else:
        subject = f"{count} invoices are now overdue at {business}"
    return send_email(
        job,
        recipient=recipient,
        sender_name="InvoiceFlow",
        subject=subject,
        html=html,
        text=text,
    )
