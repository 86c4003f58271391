"""The invoices routes (docs/api.md, "Invoices"): one Lambda function per route.

What the routes share lives here, kept small: every invoices function imports it.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from shared.errors import ErrorResponses

InvoiceId = Annotated[UUID, Path(alias="id", description="The invoice's id")]

# GET /api/invoices/{id}: the invoice with its client, items and payments in one
# round trip (PostgREST embedding; the same shape as private.invoice_document).
INVOICE_SELECT = (
    "*,"
    "client:clients(id,company_name,contact_person,email,phone,address,currency),"
    "items:invoice_items(id,position,description,quantity,rate,amount,created_at,updated_at),"
    "payments(id,amount,currency,payment_date,payment_method,reference_number,notes,created_at)"
)

error_responses = ErrorResponses(
    {
        404: "No such invoice in the organization",
        409: "The invoice number is already used in the organization",
        422: (
            "Invalid input (validation_failed, details list each field), a refused change "
            "(rule_violation), or a client or item that is not the organization's "
            "(invalid_reference)"
        ),
    }
)
