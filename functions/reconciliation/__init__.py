"""The reconciliation (payables) routes (docs/api.md, "Reconciliation: import", ...): one
Lambda function per route.

What the import routes share lives here, kept small: every reconciliation function
imports it.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from shared.models.common import ErrorBody

ImportBatchId = Annotated[UUID, Path(alias="id", description="The import batch's id")]
PurchaseOrderId = Annotated[UUID, Path(alias="id", description="The purchase order's id")]

_DESCRIPTIONS = {
    400: "Malformed JSON, or the organization is not named",
    401: "Missing, invalid or expired token",
    403: "Role too weak, or not a member of the organization",
    404: "No such row in the organization",
    409: "A document of the import was stored concurrently by another import",
    413: "The body is larger than the function's limit",
    422: (
        "Invalid input (validation_failed), or an import whose every row was rejected "
        "or that is all-or-nothing with a rejected row (import_rejected: details list "
        "each rejected row)"
    ),
    503: "The database or the file store is briefly unavailable; retry",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for the OpenAPI document: the one error body."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}
