"""The integrations routes (docs/api.md, "Webhooks and API keys"; docs/integrations.md):
outbound webhook endpoints, their deliveries, API keys. One Lambda function for the area
(``api.py``), a module per route. Every route is an admin's: integrations act for the
whole organization, and an API key cannot reach them (shared/api_keys.py).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from shared.errors import ErrorResponses

EndpointId = Annotated[UUID, Path(alias="id", description="The webhook endpoint's id")]
DeliveryId = Annotated[UUID, Path(description="The delivery's id")]
KeyId = Annotated[UUID, Path(alias="id", description="The API key's id")]

ENDPOINT_COLUMNS = "id,url,description,event_types,enabled,created_at,updated_at"
KEY_COLUMNS = "id,name,prefix,scopes,role,created_at,last_used_at,revoked_at"

error_responses = ErrorResponses(
    {
        403: "Not an admin of the organization (or an API key: keys cannot manage integrations)",
        404: "No such webhook endpoint, delivery or API key in the organization",
        409: "The delivery is still in progress: replay it once it has succeeded or failed",
        422: (
            "Invalid input (validation_failed, details list each field): an unknown event "
            "type or scope, a URL that is not https:// where the deployment requires it"
        ),
    }
)
