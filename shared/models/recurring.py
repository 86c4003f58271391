"""Models of the recurring profiles routes (docs/api.md, "Recurring invoices").

Requests are checked here first (types, bounds, unknown fields, the combinations a schedule
cannot have); what depends on stored data (the client's organization and currency, the
discount against the items' subtotal, what may change once a profile has issued invoices,
the first billing date after the end date) is the database's to refuse
(supabase/migrations/20261206110400_recurring_invoices.sql).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, ValidationInfo, field_validator, model_validator

from shared.models import Input, Output, SealedInstructions
from shared.models.common import Day
from shared.models.invoices import (
    Discount,
    Invoice,
    LongText,
    NewInvoiceItem,
    PaymentTerms,
    Reference,
    TaxRate,
    Template,
    VatCategory,
    refuse_standard_lines_without_rate,
)

Frequency = Literal["monthly", "quarterly", "annually"]
IntervalUnit = Literal["day", "week", "month"]
ProfileStatus = Literal["active", "paused", "ended"]
STATUSES: tuple[str, ...] = ("active", "paused", "ended")
MAX_ITEMS = 200
MAX_INTERVAL = {"day": 365, "week": 52, "month": 24}
Name = Annotated[str, Field(min_length=1, max_length=200)]
BillingDay = Annotated[
    int,
    Field(
        ge=1,
        le=31,
        description="The day of the month it bills; 29-31: the month's last day when shorter",
    ),
]
DueDays = Annotated[
    int, Field(ge=0, le=365, description="custom payment terms: days from issue to due")
]
MaxCycles = Annotated[int, Field(ge=1, le=1000, description="How many invoices, then it ends")]
IntervalCount = Annotated[int, Field(ge=1, le=365)]


class _Schedule(Input):
    """What a profile's create and update share: the schedule and the template."""

    name: Name | None = None
    frequency: Frequency | None = Field(
        default=None,
        description="monthly, quarterly or annually; or interval_unit + interval_count",
    )
    interval_unit: IntervalUnit | None = None
    interval_count: IntervalCount | None = None
    billing_day: BillingDay | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    max_cycles: MaxCycles | None = None
    payment_terms: PaymentTerms | None = None
    due_days: DueDays | None = None
    tax_rate: TaxRate | None = None
    discount: Discount | None = None
    notes: LongText | None = None
    terms: LongText | None = None
    payment_instructions: LongText | None = None
    template: Template | None = None
    auto_send: bool | None = None
    default_vat_category: VatCategory | None = None
    buyer_reference: Reference | None = Field(
        default=None, description="BT-10 of its invoices; default: the client's"
    )
    purchase_order_reference: Reference | None = Field(
        default=None, description="BT-13 of its invoices"
    )

    # Each check names its field (declared after the fields it compares with).
    @field_validator("interval_unit")
    @classmethod
    def _one_interval(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("frequency") is not None:
            raise ValueError("give frequency or interval_unit and interval_count, not both")
        return value

    @field_validator("interval_count")
    @classmethod
    def _count_fits_unit(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("frequency") is not None:
            raise ValueError("give frequency or interval_unit and interval_count, not both")
        unit = info.data.get("interval_unit")
        if value is not None and unit in MAX_INTERVAL and value > MAX_INTERVAL[unit]:
            raise ValueError(f"must be 1 to {MAX_INTERVAL[unit]} for interval_unit {unit}")
        return value

    @field_validator("billing_day")
    @classmethod
    def _day_is_for_months(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("interval_unit") in ("day", "week"):
            raise ValueError("billing_day is for monthly intervals (interval_unit month)")
        return value

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start_date")
        if value is not None and isinstance(start, dt.date) and value < start:
            raise ValueError(f"must not be before start_date ({start})")
        return value

    @field_validator("max_cycles")
    @classmethod
    def _one_end(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("end_date") is not None:
            raise ValueError("give end_date or max_cycles, not both")
        return value

    @field_validator("due_days")
    @classmethod
    def _days_for_custom_terms(cls, value: int | None, info: ValidationInfo) -> int | None:
        terms = info.data.get("payment_terms")
        if value is not None and terms is not None and terms != "custom":
            raise ValueError("due_days is for custom payment terms")
        return value

    def fields_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, exclude={"items"})


class RecurringProfileCreate(_Schedule):
    """POST /api/recurring-profiles. Left out: the interval is the client's
    billing_frequency (a 'one-time' client needs one given), the start date is the
    organization's today, the billing day the start date's day, the terms, tax rate,
    template, notes, terms and payment instructions the organization's defaults; no end."""

    client_id: UUID
    items: list[NewInvoiceItem] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _standard_lines_have_a_rate(self) -> RecurringProfileCreate:
        refuse_standard_lines_without_rate(self.items, self.tax_rate, type(self).__name__)
        return self

    def items_json(self) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.items]


_NOT_NULL = (
    "client_id",
    "frequency",
    "interval_unit",
    "interval_count",
    "start_date",
    "payment_terms",
    "tax_rate",
    "discount",
    "template",
    "auto_send",
    "items",
)


class RecurringProfileUpdate(_Schedule):
    """PATCH /api/recurring-profiles/{id}: the fields present change; ``null`` clears
    name, notes, terms, payment instructions, billing_day (back to the start date's day),
    end_date, max_cycles and due_days. ``items`` replaces the whole list."""

    client_id: UUID | None = None
    items: list[NewInvoiceItem] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    def items_json(self) -> list[dict[str, Any]] | None:
        return None if self.items is None else [item.to_json() for item in self.items]


# =============================================================================
# Responses
# =============================================================================


class RecurringItem(Output):
    id: UUID
    position: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    vat_category: VatCategory = Field(description="Effective: the line's or the profile's")
    tax_rate: Decimal = Field(description="Effective: the line's or the profile's")
    tax_exemption_reason_code: str | None = None
    tax_exemption_reason: str | None = None


class RecurringClient(Output):
    id: UUID
    company_name: str
    email: str | None = None
    billing_frequency: str


class RecurringInvoiceRef(Output):
    id: UUID
    invoice_number: str
    recurring_period_start: dt.date
    issue_date: dt.date
    due_date: dt.date
    status: str
    total_amount: Decimal


class _ProfileFields(Output):
    id: UUID
    client_id: UUID
    name: str | None = None
    currency: str
    frequency: Literal["monthly", "quarterly", "annually", "custom"]
    interval_unit: IntervalUnit
    interval_count: int
    billing_day: int | None = None
    start_date: dt.date
    end_date: dt.date | None = None
    max_cycles: int | None = None
    auto_send: bool
    status: ProfileStatus
    ended_reason: Literal["completed", "cancelled"] | None = None
    first_billing_date: dt.date
    next_billing_date: dt.date | None = None
    cycles_issued: int
    last_issued_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class RecurringProfileSummary(_ProfileFields):
    """A row of GET /api/recurring-profiles (no items), with the client's name."""

    client_company_name: str


class RecurringProfile(_ProfileFields, SealedInstructions):
    """One profile, whole: its template, items, client and latest invoices."""

    client: RecurringClient
    payment_terms: PaymentTerms
    due_days: int | None = None
    tax_rate: Decimal
    discount: Decimal
    notes: str | None = None
    terms: str | None = None
    payment_instructions: str | None = None
    template: Template
    default_vat_category: VatCategory | None = None
    buyer_reference: str | None = None
    purchase_order_reference: str | None = None
    paused_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    subtotal: Decimal
    items: list[RecurringItem]
    invoice_count: int
    recent_invoices: list[RecurringInvoiceRef] = Field(
        description="The latest 12 invoices it issued, the latest period first"
    )


class DeletedProfile(Output):
    """DELETE: ``deleted``, or ``cancelled`` (with the profile) when it issued invoices."""

    action: Literal["deleted", "cancelled"]
    profile: RecurringProfile | None = None


class PreviewInvoice(Output):
    period: int = Field(description="1 for the next invoice")
    period_start: dt.date
    period_end: dt.date
    issue_date: dt.date
    due_date: dt.date
    due_now: bool = Field(description="Its billing date has come: the next job run issues it")
    currency: str
    subtotal: Decimal
    discount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    total_amount: Decimal


class Preview(Output):
    profile_id: UUID
    status: ProfileStatus
    today: dt.date = Field(description="The organization's today, in its time zone")
    invoices: list[PreviewInvoice]


class IssuedNow(Output):
    """POST /api/recurring-profiles/{id}/issue: the invoice made (a draft) and the profile."""

    invoice: Invoice
    profile: RecurringProfile
