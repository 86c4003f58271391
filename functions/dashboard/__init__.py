"""The dashboard routes: headline figures, recent invoices and activities, revenue chart.

Each route is one call to a SQL function (20261206100900_reports.sql) that computes
its whole answer with the caller's rights; any role of the organization may read.
"""

from __future__ import annotations

from typing import Any

from shared.models.common import ErrorBody

# The errors every dashboard route may answer (docs/api.md, "Errors").
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "organization_required, invalid_organization"},
    401: {"model": ErrorBody, "description": "missing_token, invalid_token, token_expired"},
    403: {"model": ErrorBody, "description": "not a member of the named organization"},
    422: {"model": ErrorBody, "description": "validation_failed: a parameter is out of range"},
    429: {"model": ErrorBody, "description": "rate_limited"},
    503: {"model": ErrorBody, "description": "service_unavailable"},
}
