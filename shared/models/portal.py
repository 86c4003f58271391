"""Models of the client page and its links (docs/api.md, "The client page").

The page's JSON is what the HTML page shows, for a frontend that renders its own portal:
the document as printed (numbers, dates, lines, money as decimal strings), its status and
what the client may do (pay, accept, decline). Nothing else about the organization or the
client is answered.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal
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
