"""The invoices routes (docs/api.md, "Invoices"): a module per route, served by the area's
function (api.py) or, for sending, bulk actions and the PDF, functions of their own.

What the routes share lives here, kept small: every invoices function imports it.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from shared.errors import ErrorResponses

InvoiceId = Annotated[UUID, Path(alias="id", description="The invoice's id")]

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
