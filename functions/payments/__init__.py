"""Payments: the routes of /api/payments."""

from __future__ import annotations

from shared.errors import ErrorResponses

error_responses = ErrorResponses(
    {
        404: "No such payment in the organization, or (to record one) no such invoice",
        422: (
            "Invalid input (validation_failed, details list each field), or a refused "
            "payment (rule_violation: the invoice is not sent or overdue, or the amount is "
            "over its balance due)"
        ),
    }
)
