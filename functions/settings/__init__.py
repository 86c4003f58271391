"""Settings: profile, business and notification preferences (/api/settings)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared import parties
from shared.errors import ErrorResponses

error_responses = ErrorResponses(
    {
        404: "The caller's profile or the organization's settings do not exist",
        422: "Invalid input; details lists each field",
    }
)


def sealed_business(
    organization_id: UUID, business: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The business section for update_settings: tax ids, the IBAN and the payment
    instructions sealed (shared/parties.py), never sent in clear."""
    return None if business is None else parties.seal_business(organization_id, business)


def opened(settings: dict[str, Any]) -> dict[str, Any]:
    """get_settings' or update_settings' answer with the business section's seals opened
    (the clear values for the members who may read the settings; the seals left out)."""
    if isinstance(settings.get("business"), dict):
        settings["business"] = parties.open_business(settings["business"])
    return settings
