"""Settings: profile, business and notification preferences (/api/settings)."""

from __future__ import annotations

from shared.errors import ErrorResponses

error_responses = ErrorResponses(
    {
        404: "The caller's profile or the organization's settings do not exist",
        422: "Invalid input; details lists each field",
    }
)
