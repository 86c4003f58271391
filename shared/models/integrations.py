"""Models of the integrations routes: webhook endpoints, their deliveries, API keys
(docs/api.md, "Webhooks and API keys"; docs/integrations.md).

Requests are checked here (unknown fields refused, each refusal naming its field); what
depends on stored data (the organization's endpoints, a delivery's state) is the
database's to refuse (migration 20261206130300_webhooks_and_api_keys.sql). Whether a URL
may be plain HTTP is the deployment's (``Settings.webhook_allow_http``), checked by the
route.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import urllib.parse
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from shared.models import Input, Output

EVENT_TYPES: tuple[str, ...] = (
    "invoice.created",
    "invoice.sent",
    "invoice.paid",
    "invoice.overdue",
    "invoice.cancelled",
    "payment.recorded",
    "payment.refunded",
    "quote.accepted",
    "credit_note.issued",
    "client.created",
    "reconciliation.exception_opened",
    "reconciliation.exception_resolved",
)
EventType = Literal[
    "invoice.created",
    "invoice.sent",
    "invoice.paid",
    "invoice.overdue",
    "invoice.cancelled",
    "payment.recorded",
    "payment.refunded",
    "quote.accepted",
    "credit_note.issued",
    "client.created",
    "reconciliation.exception_opened",
    "reconciliation.exception_resolved",
]
DELIVERY_STATUSES: tuple[str, ...] = (
    "pending",
    "queued",
    "delivering",
    "retrying",
    "succeeded",
    "failed",
)
DeliveryStatus = Literal["pending", "queued", "delivering", "retrying", "succeeded", "failed"]

# The areas a key's scopes name, and the routes' first path segments in each.
AREAS: dict[str, tuple[str, ...]] = {
    "clients": ("clients",),
    "invoices": ("invoices",),
    "payments": ("payments",),
    "quotes": ("quotes",),
    "credit_notes": ("credit-notes", "refunds"),
    "recurring": ("recurring-profiles",),
    "reconciliation": ("reconciliation",),
    "reports": ("reports", "dashboard"),
}
SCOPE_PATTERN = re.compile(r"^((" + "|".join(AREAS) + r"):)?(read|write)$")


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host, no user info and no fragment."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value


def private_host(url: str) -> bool:
    """Whether the URL names this machine or a private network by address or by name."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


WebhookUrl = Annotated[str, Field(min_length=10, max_length=2048), AfterValidator(check_url)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=12)]


def _scope(value: str) -> str:
    if not SCOPE_PATTERN.match(value):
        raise ValueError(
            "a scope is read or write, alone or after an area ("
            + ", ".join(AREAS)
            + "), e.g. invoices:read"
        )
    return value


Scope = Annotated[str, Field(max_length=40), AfterValidator(_scope)]


# =============================================================================
# Requests
# =============================================================================


class WebhookEndpointCreate(Input):
    """An endpoint: where to post, which events; the secret is made by the database."""

    url: WebhookUrl
    event_types: EventTypes
    description: Annotated[str, Field(max_length=500)] | None = None
    enabled: bool = True


class WebhookEndpointUpdate(Input):
    """What may change: the URL, the events, the description, enabled (disable/enable)."""

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> WebhookEndpointUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one field to change")
        for name in ("url", "event_types", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise PydanticCustomError("null_field", f"{name} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        data = self.to_json(exclude_unset=True)
        if "event_types" in data:
            data["event_types"] = sorted(set(data["event_types"]))
        return data


class ApiKeyCreate(Input):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=20)]


# =============================================================================
# Responses
# =============================================================================


class WebhookEndpoint(Output):
    id: UUID
    url: str
    description: str | None = None
    event_types: list[str]
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(description="The signing secret (whsec_...): shown this once only")
    previous_secret_valid_until: dt.datetime | None = Field(
        default=None, description="After a rotation: the old secret also signs until then"
    )


class WebhookAttempt(Output):
    attempt: int
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    succeeded: bool


class WebhookDelivery(Output):
    id: UUID
    endpoint_id: UUID
    event_id: UUID = Field(description="The event's id: the webhook-id header, for ever")
    event_type: str
    event_created_at: dt.datetime
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: dt.datetime | None = None
    succeeded_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    attempt_log: list[WebhookAttempt]


class ApiKey(Output):
    id: UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognize it")
    scopes: list[str]
    role: str = Field(description="The role the key acts with: viewer (read) or member (write)")
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class ApiKeyWithSecret(ApiKey):
    key: str = Field(description="The key: shown this once only; send it as a Bearer token")
