"""Models of the client page and its links (docs/api.md, "The client page").

The page's JSON is what the HTML page shows, for a frontend that renders its own portal:
the document as printed (numbers, dates, lines, money as decimal strings), its status and
what the client may do (pay, accept, decline). Nothing else about the organization or the
client is answered.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from shared.models import Input, Output

DocumentType = Literal["invoice", "quote"]


class ClientLinkCreate(Input):
    """A new link to the client page of a sent invoice or quote."""

    document_type: DocumentType
    document_id: UUID
    rotate: bool = Field(
        default=False, description="Revoke the document's live links first (a new token)."
    )


class ClientLink(Output):
    id: UUID
    document_type: DocumentType
    document_id: UUID
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_viewed_at: dt.datetime | None = None
    view_count: int
    active: bool


class ClientLinkCreated(ClientLink):
    url: str = Field(description="The link for the client; shown once (only its hash is kept).")


class ClientLinkList(Output):
    data: list[ClientLink]


class PortalLine(Output):
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


class PortalBusiness(Output):
    name: str
    email: str | None = None
    phone: str | None = None
    address_lines: list[str]
    logo_url: str | None = None
    brand_color: str


class PortalActions(Output):
    pay: bool = Field(description="A Pay button: a balance is due and online payment is set up.")
    partial_payments: bool
    accept: bool
    decline: bool


class PortalDocument(Output):
    """GET /p/{token} with ``Accept: application/json``."""

    document_type: DocumentType
    number: str
    status: str
    currency: str
    issue_date: dt.date
    due_date: dt.date | None = None
    valid_until: dt.date | None = None
    client_name: str
    business: PortalBusiness
    items: list[PortalLine]
    subtotal: Decimal
    discount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    amount_paid: Decimal | None = None
    balance_due: Decimal | None = None
    notes: str | None = None
    terms: str | None = None
    actions: PortalActions
    link_expires_at: dt.datetime
    einvoice_format: str | None = Field(
        default=None,
        description=(
            "The e-invoice the page offers at /p/{token}/einvoice (the client's chosen format,"
            " else the organization's); null: none"
        ),
    )


# =============================================================================
# Stripe (docs/api.md, "Online payment through Stripe")
# =============================================================================

SecretKey = Annotated[
    str,
    Field(
        pattern=r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$",
        description="The account's secret (or restricted) key; kept sealed, never answered.",
    ),
]
WebhookSecret = Annotated[
    str,
    Field(
        pattern=r"^whsec_[A-Za-z0-9+/=_-]{8,250}$",
        description="The webhook endpoint's signing secret; left out, the endpoint is "
        "registered at Stripe with the key and its secret kept.",
    ),
]


class StripeAccountConnect(Input):
    secret_key: SecretKey
    webhook_secret: WebhookSecret | None = None
    allow_partial_payments: bool = False


class StripeAccountUpdate(Input):
    allow_partial_payments: bool


class StripeAccount(Output):
    connected: bool
    livemode: bool | None = None
    allow_partial_payments: bool | None = None
    webhook_url: str | None = Field(
        default=None, description="Where Stripe posts the account's events"
    )
    connected_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


StripeEventStatus = Literal["processed", "ignored", "needs_attention", "resolved"]


class StripeEvent(Output):
    id: UUID
    event_id: str
    type: str
    livemode: bool
    status: StripeEventStatus
    reason: str | None = None
    invoice_id: UUID | None = None
    payment_id: UUID | None = None
    payment_intent_id: str | None = None
    stripe_created_at: dt.datetime | None = None
    received_at: dt.datetime
    resolved_at: dt.datetime | None = None


class StripeEventList(Output):
    data: list[StripeEvent]


class PayForm(Input):
    """POST /p/{token}/pay: a form's or JSON body; ``amount`` only where partial
    payments are allowed (else the balance due)."""

    amount: Decimal | None = Field(default=None, gt=0, lt=Decimal("1e12"))
