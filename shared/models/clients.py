"""Models of the clients routes.

Request bodies mirror the checks of ``public.clients`` (supabase/migrations/
20261206100500_clients.sql) so bad input is refused with a field path before any
call; the table's checks stay the last word. The derived columns (``total_billed``,
``outstanding_balance``, ``last_invoice_date``) are not in the request models: the
database computes them from invoices and refuses writes to them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.formatting import minor_unit
from shared.models import DocumentedPattern, Input, Output
from shared.models.common import unique_ids
from shared.models.contact import BLANK, Address, Email, Notes, Phone, limited
from shared.models.parties import (
    CountryCode,
    EinvoiceFormat,
    ElectronicAddress,
    ElectronicAddressScheme,
    RegistrationId,
    VatId,
    electronic_address_pair,
)

ClientStatus = Literal["active", "inactive", "pending"]
BillingFrequency = Literal["monthly", "quarterly", "annually", "one-time"]
InvoiceStatus = Literal["draft", "sent", "paid", "overdue", "cancelled"]
ActivityType = Literal[
    "new", "communication", "payment", "invoice_sent", "invoice_overdue", "other"
]

CLIENT_STATUSES: tuple[str, ...] = ("active", "inactive", "pending")
BILLING_FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "annually", "one-time")

CURRENCY_PATTERN = r"^[A-Z]{3}$"
_CURRENCY = re.compile(CURRENCY_PATTERN)
MAX_BULK_IDS = 500


def at_currency_scale(amount: Decimal, currency: str) -> Decimal:
    """The amount with its currency's number of decimals (amounts from the database
    are already rounded to it; only an untouched default ``0`` lacks the scale)."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


_limited = limited
_Blank = BLANK


def _currency(value: str) -> str:
    if not _CURRENCY.match(value):
        raise PydanticCustomError(
            "currency", "a currency is a three-letter ISO 4217 code in capitals, e.g. USD"
        )
    return value


CompanyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_currency),
    DocumentedPattern(CURRENCY_PATTERN),
]
ContactPerson = Annotated[Annotated[str, _limited(200)] | None, _Blank]
AvatarUrl = Annotated[Annotated[str, _limited(2048)] | None, _Blank]
Line200 = Annotated[Annotated[str, _limited(200)] | None, _Blank]
Line100 = Annotated[Annotated[str, _limited(100)] | None, _Blank]
Line20 = Annotated[Annotated[str, _limited(20)] | None, _Blank]


class PartyFields(Input):
    """The buyer's fields (EN 16931 BG-7) a client adds (docs/api.md, "Parties"):
    ``country_code`` comes before ``vat_id``, whose rules it chooses."""

    address_line1: Line200 = Field(default=None, description="Street and number (BT-50).")
    address_line2: Line200 = None
    city: Line100 = None
    postal_code: Line20 = None
    subdivision: Line100 = Field(default=None, description="State, region, province (BT-54).")
    country_code: CountryCode = Field(default=None, description="ISO 3166-1 alpha-2 (BT-55).")
    vat_id: VatId = Field(
        default=None,
        description=(
            "The client's VAT id (BT-48), checked with python-stdnum (EU prefix, else"
            " country_code's rules, else shape); stored sealed, found by its keyed hash."
        ),
    )
    legal_registration_id: RegistrationId = Field(default=None, description="BT-47.")
    buyer_reference: Line200 = Field(
        default=None, description="Default buyer reference (BT-10, a Leitweg-ID) of invoices."
    )
    einvoice_format: EinvoiceFormat | None = Field(
        default=None, description="Overrides the organization's e-invoice format."
    )
    # The scheme first: the address is checked against it (a GLN under 0088 ...).
    electronic_address_scheme: ElectronicAddressScheme = Field(
        default=None, description="EAS code: 0088 GLN, 9930 DE VAT, EM email (not Peppol)..."
    )
    electronic_address: ElectronicAddress = Field(
        default=None, description="Peppol endpoint (BT-49), with electronic_address_scheme."
    )

    @model_validator(mode="after")
    def _address_with_scheme(self) -> PartyFields:
        electronic_address_pair(
            self.electronic_address, self.electronic_address_scheme, self.model_fields_set
        )
        return self


class ClientCreate(PartyFields):
    """A new client. ``currency`` defaults to the organization's default currency."""

    company_name: CompanyName
    contact_person: ContactPerson = None
    email: Email = None
    phone: Phone = None
    address: Address = None
    notes: Notes = None
    currency: Currency | None = Field(
        default=None, description="ISO 4217 code; the organization's default when omitted"
    )
    status: ClientStatus = "active"
    billing_frequency: BillingFrequency = "monthly"
    avatar_url: AvatarUrl = None

    def to_row(self) -> dict[str, Any]:
        """The columns to insert: a missing currency is left to the database's default."""
        row = self.to_json()
        if row.get("currency") is None:
            row.pop("currency", None)
        return row


_NOT_NULL = ("company_name", "currency", "status", "billing_frequency")


class ClientUpdate(PartyFields):
    """A partial update: only the fields present change; ``null`` clears an optional
    field. ``company_name``, ``currency``, ``status`` and ``billing_frequency`` cannot
    be cleared."""

    company_name: CompanyName | None = None
    contact_person: ContactPerson = None
    email: Email = None
    phone: Phone = None
    address: Address = None
    notes: Notes = None
    currency: Currency | None = Field(
        default=None, description="refused (409) once the client has invoices"
    )
    status: ClientStatus | None = None
    billing_frequency: BillingFrequency | None = None
    avatar_url: AvatarUrl = None

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("not_null", "this field cannot be null")
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> ClientUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        return self.to_json(exclude_unset=True)


class ClientBulkDelete(Input):
    ids: list[UUID] = Field(
        min_length=1,
        max_length=MAX_BULK_IDS,
        description=f"1 to {MAX_BULK_IDS} distinct client ids",
    )

    @field_validator("ids")
    @classmethod
    def _unique(cls, ids: list[UUID]) -> list[UUID]:
        return unique_ids(ids)


# ----------------------------------------------------------------------------- output


class Client(Output):
    id: UUID
    organization_id: UUID
    company_name: str
    contact_person: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    notes: str | None = None
    currency: str
    status: ClientStatus
    billing_frequency: BillingFrequency
    avatar_url: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    subdivision: str | None = None
    country_code: str | None = None
    vat_id: str | None = Field(default=None, description="The VAT id (opened; sealed at rest).")
    vat_id_hash: str | None = Field(
        default=None, description="Keyed hash of the VAT id (GET /api/clients?vat_id=...)."
    )
    legal_registration_id: str | None = None
    buyer_reference: str | None = None
    einvoice_format: EinvoiceFormat | None = None
    electronic_address: str | None = None
    electronic_address_scheme: str | None = None
    total_billed: Decimal = Field(description="sum of the sent, paid and overdue invoices")
    outstanding_balance: Decimal = Field(
        description="sum of the balances of sent and overdue invoices"
    )
    last_invoice_date: date | None = Field(description="latest issue date of those invoices")
    created_by: UUID | None = None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _scaled_totals(self) -> Client:
        self.total_billed = at_currency_scale(self.total_billed, self.currency)
        self.outstanding_balance = at_currency_scale(self.outstanding_balance, self.currency)
        return self


class ClientInvoiceSummary(Output):
    id: UUID
    invoice_number: str
    status: InvoiceStatus
    issue_date: date
    due_date: date
    total: Decimal
    balance_due: Decimal
    currency: str

    @model_validator(mode="after")
    def _scaled(self) -> ClientInvoiceSummary:
        self.total = at_currency_scale(self.total, self.currency)
        self.balance_due = at_currency_scale(self.balance_due, self.currency)
        return self


class ClientActivity(Output):
    id: UUID
    activity: str
    timestamp: datetime
    type: ActivityType
    metadata: dict[str, Any] | None = None
    created_by: UUID | None = None


class ClientDetail(Client):
    recent_invoices: list[ClientInvoiceSummary] = Field(
        description="the 10 latest invoices, newest issue date first"
    )
    recent_activities: list[ClientActivity] = Field(
        description="the 20 latest activities, newest first"
    )


BulkDeleteStatus = Literal["deleted", "not_found", "has_invoices"]


class BulkDeleteItem(Output):
    id: UUID
    status: BulkDeleteStatus
    message: str


class BulkDeleteSummary(Output):
    requested: int
    deleted: int
    not_found: int
    has_invoices: int


class BulkDeleteResult(Output):
    results: list[BulkDeleteItem] = Field(description="one entry per requested id, in order")
    summary: BulkDeleteSummary
