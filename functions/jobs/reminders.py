"""Scheduled job (daily, 08:00 UTC): payment reminders to clients, the invoice attached.

``public.job_open_reminders`` opens, a chunk of open invoices a call, the reminder slot
each open invoice is due by its organization's ``reminder_settings`` (up to three levels
on days relative to the due date, then a repeat every N days; one slot per invoice and
run, the current one, so missed days bring one reminder; the day is the organization's,
in its time zone), at most once per invoice and slot (a unique constraint), and adds the
late fee of a level that asks for one (once per invoice and level, in SQL).
``job_claim_reminders`` claims them with a lease, superseding those no longer current,
each with its level's subject and message. The placeholders of those are filled here
(`fill`), the email rendered (the invoice's PDF from its document, which shows the fee's
line), sent through SES and recorded at once: sent with its message id (and a line on
the client's timeline), or failed (retried by the next run while the slot is current).
Every call is bounded (docs/architecture.md, "Statement timeouts").
Event: ``{}`` or EventBridge's; ``as_of`` replays a day (for every organization),
``organization_ids`` limits a run.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from shared import email as mail
from shared.documents import load_invoice_document
from shared.formatting import format_date, format_money
from shared.jobs import TIME_RESERVE_MS, Job, JobEvent, Outcome, drain, send_email
from shared.pdf import render_invoice_pdf

# Open invoices per opening call (``job_open_reminders``): well under a second each.
OPEN_BATCH = 2000

# A level's subject and message name these (validated in SQL:
# private.reminder_settings_problem); anything else in braces stays as written.
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# What a reminder says when its level is gone from the settings since it was opened.
FALLBACK_SUBJECT = {
    "before": "Reminder: invoice {invoice_number} from {business_name} is due {due_date}",
    "overdue": (
        "Overdue: invoice {invoice_number} from {business_name} ({amount_due} due {due_date})"
    ),
}
FALLBACK_MESSAGE = (
    "Dear {client_name},\n\nInvoice {invoice_number}: {amount_due} due on {due_date}."
)


def fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each known ``{placeholder}`` replaced by its value."""
    return PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), template)


def open_slots(job: Job, params: dict[str, Any]) -> dict[str, int]:
    """Opens the day's reminder slots a chunk of open invoices a call (keyset by due date
    and id), so no statement approaches the statement timeout (docs/architecture.md,
    "Statement timeouts")."""
    counts = {"opened": 0, "open_calls": 0, "late_fees": 0}
    cursor: dict[str, Any] = {}
    while True:
        body: dict[str, Any] = job.rpc(
            "job_open_reminders", {**params, **cursor, "batch_limit": OPEN_BATCH}
        )
        counts["opened"] += int(body["opened"])
        counts["late_fees"] += int(body.get("late_fees") or 0)
        counts["open_calls"] += 1
        if body["done"]:
            return counts
        if job.time_left_ms() <= TIME_RESERVE_MS:
            job.warning("out of time while opening reminders", opened=counts["opened"])
            return counts
        cursor = {"after_due_date": body["after_due_date"], "after_id": body["after_id"]}


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("reminders", context)
    asked = JobEvent.parse(event)
    params = asked.params()
    opening = open_slots(job, params)

    def claim(skip: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = job.rpc(
            "job_claim_reminders",
            {**params, "batch_limit": asked.batch_limit, "skip_ids": skip, "open_slots": False},
        )
        return body

    totals = drain(job, claim, lambda item: send_reminder(job, item))
    totals["opened"] = opening["opened"]
    totals["open_calls"] = opening["open_calls"]
    totals["late_fees"] = opening["late_fees"]
    return job.finish(totals)


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
    phase = "overdue" if item.get("phase") == "overdue" else "before"
    balance = format_money(Decimal(str(document["balance_due"])), currency)
    days_overdue = int(item.get("days_overdue") or 0)
    days_until_due = int(item.get("days_until_due") or 0)
    values = {
        "client_name": client.get("contact_person") or client.get("company_name") or "",
        "business_name": business["name"],
        "invoice_number": document["invoice_number"],
        "amount_due": balance,
        "total": format_money(Decimal(str(document["total_amount"])), currency),
        "due_date": format_date(document["due_date"]),
        "issue_date": format_date(document["issue_date"]),
        "days_overdue": str(days_overdue),
        "days_until_due": str(days_until_due),
    }
    fee = item.get("late_fee")
    context = {
        **values,
        "message": fill(item.get("message") or FALLBACK_MESSAGE, values),
        "balance_due": balance,
        "overdue": phase == "overdue",
        "level": item.get("level"),
        "late_fee": format_money(Decimal(str(fee["amount"])), fee["currency"]) if fee else None,
        "payment_instructions": document.get("payment_instructions")
        or business.get("default_payment_instructions"),
        "reply_to": business.get("business_email"),
        "footer": business.get("invoice_footer"),
    }
    html, text = mail.render("payment_reminder", **context)
    subject = mail.one_line(fill(item.get("subject") or FALLBACK_SUBJECT[phase], values))
    number = document["invoice_number"]
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
