"""The invoices routes (docs/api.md, "Invoices"): one Lambda function per route.

What the routes share lives here, kept small: every invoices function imports it.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from shared.models.common import ErrorBody

InvoiceId = Annotated[UUID, Path(alias="id", description="The invoice's id")]

# GET /api/invoices/{id}: the invoice with its client, items and payments in one
# round trip (PostgREST embedding; the same shape as private.invoice_document).
INVOICE_SELECT = (
    "*,"
    "client:clients(id,company_name,contact_person,email,phone,address,currency),"
    "items:invoice_items(id,position,description,quantity,rate,amount,created_at,updated_at),"
    "payments(id,amount,currency,payment_date,payment_method,reference_number,notes,created_at)"
)

_DESCRIPTIONS = {
    400: "Malformed JSON, or the organization is not named",
    401: "Missing, invalid or expired token",
    403: "Role too weak, or not a member of the organization",
    404: "No such invoice in the organization",
    409: "The invoice number is already used in the organization",
    422: (
        "Invalid input (validation_failed, details list each field), a refused change "
        "(rule_violation), or a client or item that is not the organization's "
        "(invalid_reference)"
    ),
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for the OpenAPI document: the one error body."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}
