"""Credit notes, refunds and client credit (docs/api.md, "Credit notes, refunds and client
credit"): a module per route, served by the area's function (api.py). The rules are the
database's (migration 20261206110200_credit_notes.sql); each route parses, calls one SQL
function or one PostgREST select, and answers.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from shared.errors import ErrorResponses

PathId = Annotated[UUID, Path(alias="id", description="The id")]

error_responses = ErrorResponses(
    {
        404: "No such credit note, refund, invoice, payment or client in the organization",
        409: "The Idempotency-Key is in use by another request, or was used for another body",
        422: (
            "Invalid input (validation_failed, details list each field), or a refused "
            "credit, refund or application (rule_violation: more than is left to credit, "
            "refund or apply, an invoice that is not issued or not open)"
        ),
    }
)
