"""Scheduled job (Mondays 07:00 UTC with ``{"period": "week"}``, the 1st of the month
with ``{"period": "month"}``): summary emails to the members who asked for them.

``public.job_claim_summaries`` opens one summary per member (weeklyReport or
monthlyReport on) and organization with something to report, for the last full week
or month, at most once (a unique constraint on kind, member, organization and period),
and claims them with their figures from the report functions (``reports_overview`` for
the period, ``dashboard_metrics`` for what is open now). Each is sent and recorded at
once; a failed one is retried by the next run of the same period.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from shared import email as mail
from shared.formatting import format_date, format_money
from shared.jobs import Job, JobEvent, JobInputError, Outcome, drain, send_email


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("summaries", context)
    asked = JobEvent.parse(event)
    if asked.period is None:
        raise JobInputError('a summary run needs {"period": "week"} or {"period": "month"}')
    params = {**asked.params(), "period": asked.period}

    def claim(skip: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = job.rpc(
            "job_claim_summaries", {**params, "batch_limit": asked.batch_limit, "skip_ids": skip}
        )
        return body

    return job.finish(drain(job, claim, lambda item: send_summary(job, item)))


def period_label(period: str, start: str, end: str) -> str:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if period == "month":
        return first.strftime("%B %Y")
    return f"the week of {format_date(first)} to {format_date(last)}"


def rows_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per currency: the period's billed and collected, what is open now."""
    now = {block["currency"]: block for block in (item.get("now") or {}).get("by_currency") or []}
    rows = []
    for block in (item.get("overview") or {}).get("by_currency") or []:
        currency = block["currency"]
        current = now.get(currency, {})

        def money(value: Any, currency: str = currency) -> str:
            return format_money(Decimal(str(value or 0)), currency)

        rows.append(
            {
                "currency": currency,
                "billed": money(block.get("billed")),
                "invoice_count": int(block.get("invoice_count") or 0),
                "collected": money(block.get("collected")),
                "payment_count": int(block.get("payment_count") or 0),
                "outstanding": money(current.get("outstanding_amount")),
                "overdue": money(current.get("overdue_amount")),
                "overdue_count": int(current.get("overdue_count") or 0),
            }
        )
    return rows


def send_summary(job: Job, item: dict[str, Any]) -> Outcome:
    recipient = item.get("recipient")
    if not recipient:
        return Outcome(error="the member has no email address", retryable=False)
    business = str(item.get("business_name") or item.get("organization_name") or "")
    period = str(item["period"])
    label = period_label(period, item["from"], item["to"])
    html, text = mail.render(
        "summary",
        business_name=business,
        first_name=item.get("first_name"),
        period=period,
        period_label=label,
        rows=rows_of(item),
        link=job.settings.app_url.rstrip("/") + "/reports",
        footer=None,
    )
    kind = "weekly" if period == "week" else "monthly"
    subject = f"Your {kind} summary for {business}: {label.removeprefix('the week of ')}"
    return send_email(
        job,
        recipient=recipient,
        sender_name="InvoiceFlow",
        subject=subject,
        html=html,
        text=text,
    )
