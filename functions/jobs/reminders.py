"""Scheduled job (daily, 08:00 UTC): payment reminders to clients, the invoice attached.

``public.job_open_reminders`` opens, a chunk of open invoices a call, the reminder slot
each open invoice is due by its organization's ``reminder_settings`` (days before the due
date, then daily or weekly once overdue; one slot per invoice and run, the latest, so
missed days bring one reminder), at most once per invoice and slot (a unique
constraint); ``job_claim_reminders`` claims them with a lease, superseding those no longer
current. Each claimed reminder is rendered (the invoice's PDF from its document), sent
through SES and recorded at once: sent with its message id (and a line on the client's
timeline), or failed (retried by the next run while the slot is current). Every call is
bounded (docs/architecture.md, "Statement timeouts").
Event: ``{}`` or EventBridge's; ``as_of`` replays a day, ``organization_ids`` limits a
run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared import email as mail
from shared.documents import load_invoice_document
from shared.formatting import format_date, format_money
from shared.jobs import TIME_RESERVE_MS, Job, JobEvent, Outcome, drain, send_email
from shared.pdf import render_invoice_pdf

# Open invoices per opening call (``job_open_reminders``): well under a second each.
OPEN_BATCH = 2000


def open_slots(job: Job, params: dict[str, Any]) -> dict[str, int]:
    """Opens the day's reminder slots a chunk of open invoices a call (keyset by due date
    and id), so no statement approaches the statement timeout (docs/architecture.md,
    "Statement timeouts")."""
    counts = {"opened": 0, "open_calls": 0}
    cursor: dict[str, Any] = {}
    while True:
        body: dict[str, Any] = job.rpc(
            "job_open_reminders", {**params, **cursor, "batch_limit": OPEN_BATCH}
        )
        counts["opened"] += int(body["opened"])
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
