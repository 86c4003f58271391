"""Scheduled job (daily, 08:00 UTC): payment reminders to clients, the invoice attached.

``public.job_claim_reminders`` opens the reminder slot each open invoice is due by its
organization's ``reminder_settings`` (days before the due date, then daily or weekly
once overdue; one slot per invoice and run, the latest, so missed days bring one
reminder), at most once per invoice and slot (a unique constraint), and claims them
with a lease. Each claimed reminder is rendered (the invoice's PDF from its document),
sent through SES and recorded at once: sent with its message id (and a line on the
client's timeline), or failed (retried by the next run while the slot is current).
Event: ``{}`` or EventBridge's; ``as_of`` replays a day, ``organization_ids`` limits a
run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared import email as mail
from shared.documents import load_invoice_document
from shared.formatting import format_date, format_money
from shared.jobs import Job, JobEvent, Outcome, drain, send_email
from shared.pdf import render_invoice_pdf


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("reminders", context)
    asked = JobEvent.parse(event)
    params = asked.params()

    def claim(skip: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = job.rpc(
            "job_claim_reminders", {**params, "batch_limit": asked.batch_limit, "skip_ids": skip}
        )
        return body

    return job.finish(drain(job, claim, lambda item: send_reminder(job, item)))


def send_reminder(job: Job, item: dict[str, Any]) -> Outcome:
    document = load_invoice_document(job.client, item["organization_id"], item["invoice_id"])
    if document is None:
        return Outcome(error="the invoice no longer exists", retryable=False)
    client = document["client"]
    business = document["business"]
    recipient = client.get("email") or item.get("recipient")
    if not recipient:
        return Outcome(error="the client has no email address", retryable=False)
    currency = document["currency"]
    overdue = item.get("phase") == "overdue"
    number = document["invoice_number"]
    due = format_date(document["due_date"])
    balance = format_money(Decimal(str(document["balance_due"])), currency)
    context = {
        "business_name": business["name"],
        "client_name": client.get("contact_person") or client.get("company_name") or "",
        "invoice_number": number,
        "issue_date": format_date(document["issue_date"]),
        "due_date": due,
        "total": format_money(Decimal(str(document["total_amount"])), currency),
        "balance_due": balance,
        "overdue": overdue,
        "days_overdue": int(item.get("days_overdue") or 0),
        "days_until_due": int(item.get("days_until_due") or 0),
        "payment_instructions": document.get("payment_instructions")
        or business.get("default_payment_instructions"),
        "reply_to": business.get("business_email"),
        "footer": business.get("invoice_footer"),
    }
    html, text = mail.render("payment_reminder", **context)
    if overdue:
        subject = f"Overdue: invoice {number} from {business['name']} ({balance} due {due})"
    else:
        subject = f"Reminder: invoice {number} from {business['name']} is due {due}"
    pdf = render_invoice_pdf(document, document.get("template"))
    return send_email(
        job,
        recipient=recipient,
        sender_name=business["name"],
        subject=subject,
        html=html,
        text=text,
        reply_to=business.get("business_email") or None,
        attachments=[mail.Attachment(filename=f"Invoice {number}.pdf", content=pdf)],
    )
