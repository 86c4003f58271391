"""The fields the billing lifecycle added to the dashboard and report answers
(20261206110600_lifecycle_reports.sql; tests/api/dashboard/test_lifecycle_figures.py
checks them). The tests written before them compare the answers they knew with these
taken out, at any depth: the old fields keep their values when there are no credit
notes, refunds, recurring profiles or quotes."""

from __future__ import annotations

from typing import Any

LIFECYCLE_FIELDS = frozenset(
    {
        "mrr",
        "client_credit",
        "clients_with_credit",
        "open_quotes_count",
        "open_quotes_amount",
        "received_this_month",
        "received_last_month",
        "refunded_this_month",
        "refunded_last_month",
        "credited_this_month",
        "credit_notes_this_month",
        "active_recurring_profiles",
        "quote_counts",
        "quote_acceptance_rate",
        "amount_credited",
        "total_credited",
        "total_refunded",
        "credited",
        "refunded",
        "received",
        "refund_count",
        "credit_note_count",
        "credit_applied",
        "quote_count",
        "quoted",
        "accepted_amount",
    }
)


def without_lifecycle(value: Any) -> Any:
    """``value`` with the lifecycle's fields removed from every object in it."""
    if isinstance(value, dict):
        return {k: without_lifecycle(v) for k, v in value.items() if k not in LIFECYCLE_FIELDS}
    if isinstance(value, list):
        return [without_lifecycle(v) for v in value]
    return value
