"""The quotes routes (docs/api.md, "Quotes"): one Lambda function for the area
(``api.py``), a module per route.

What the routes share lives here, kept small.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from shared.errors import ErrorResponses

QuoteId = Annotated[UUID, Path(alias="id", description="The quote's id")]

error_responses = ErrorResponses(
    {
        404: "No such quote in the organization",
        409: "The quote was already converted into an invoice",
        422: (
            "Invalid input (validation_failed, details list each field), a refused change or "
            "transition (rule_violation: a sent quote's items, accepting an expired quote, "
            "converting one that is not accepted), or a client that is not the "
            "organization's (invalid_reference)"
        ),
    }
)
