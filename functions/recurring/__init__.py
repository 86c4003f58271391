"""The recurring profiles routes (docs/api.md, "Recurring invoices"): one Lambda function
for the area (``api.py``), a module per route.

What the routes share lives here, kept small.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from shared.errors import ErrorResponses

ProfileId = Annotated[UUID, Path(alias="id", description="The recurring profile's id")]

error_responses = ErrorResponses(
    {
        404: "No such recurring profile in the organization",
        422: (
            "Invalid input (validation_failed, details list each field), a refused change "
            "(rule_violation: an ended profile, the schedule of a profile that has issued "
            "invoices, a discount above the items' subtotal), or a client that is not the "
            "organization's (invalid_reference)"
        ),
    }
)
