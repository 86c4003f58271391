"""The dashboard routes: headline figures, recent invoices and activities, revenue chart.

Each route is one call to a SQL function (20261206100900_reports.sql) that computes
its whole answer with the caller's rights; any role of the organization may read.
"""

from __future__ import annotations

from shared.errors import ErrorResponses

# The errors every dashboard route may answer (docs/api.md, "Errors"), as each names them:
# error_responses(*STATUSES).
error_responses = ErrorResponses(
    {
        400: "organization_required, invalid_organization",
        401: "missing_token, invalid_token, token_expired",
        403: "not a member of the named organization",
        422: "validation_failed: a parameter is out of range",
        429: "rate_limited",
        503: "service_unavailable",
    }
)
STATUSES = (400, 401, 403, 422, 429, 503)
