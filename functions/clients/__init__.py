"""The clients routes (docs/api.md, "Clients"): one Lambda function per route.

What the routes share lives here, kept small: every function imports this package.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from shared.errors import ApiError
from shared.models.common import ErrorBody

# The columns of a client in every answer (the Client model).
CLIENT_COLUMNS = (
    "id,organization_id,company_name,contact_person,email,phone,address,notes,currency,"
    "status,billing_frequency,avatar_url,total_billed,outstanding_balance,last_invoice_date,"
    "created_by,created_at,updated_at"
)

ClientId = Annotated[UUID, Path(alias="id", description="The client's id")]

_DESCRIPTIONS = {
    400: "Malformed JSON, or the organization is not named",
    401: "Missing, invalid or expired token",
    403: "Role too weak, or not a member of the organization",
    404: "No such client in the organization",
    409: "The client's state refuses the change (it has invoices)",
    422: "Invalid input; details lists each field",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for the OpenAPI document: the one error body."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


def has_invoices() -> ApiError:
    """409: deleting a client that has invoices (invoices -> clients is ON DELETE RESTRICT)."""
    return ApiError(
        409,
        "conflict",
        "the client has invoices and is kept with its financial records; "
        "set its status to inactive instead",
    )
