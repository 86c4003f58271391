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

from pydantic import Field, field_validator, model_validator

from shared.models import Input, Output
from shared.models.common import Day
from shared.models.invoices import (
    Discount,
    Invoice,
    LongText,
    NewInvoiceItem,
    PaymentTerms,
    TaxRate,
    Template,
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

    @model_validator(mode="after")
    def _coherent(self) -> Any:
        given = self.model_fields_set
        if (
            "frequency" in given
            and self.frequency is not None
            and ({"interval_unit", "interval_count"} & given)
        ):
            raise ValueError("give frequency or interval_unit and interval_count, not both")
        unit = self.interval_unit
        if unit is not None and self.interval_count is not None:
            most = MAX_INTERVAL[unit]
            if self.interval_count > most:
                raise ValueError(f"interval_count must be 1 to {most} for interval_unit {unit}")
        if unit in ("day", "week") and self.billing_day is not None:
            raise ValueError("billing_day is for monthly intervals (interval_unit month)")
        if self.end_date is not None and self.max_cycles is not None:
            raise ValueError("give end_date or max_cycles, not both")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date must not be before start_date ({self.start_date})")
        if (
            self.payment_terms is not None
            and self.payment_terms != "custom"
            and self.due_days is not None
        ):
            raise ValueError("due_days is for custom payment terms")
        return self

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
    def _custom_terms_need_days(self) -> RecurringProfileCreate:
        if self.payment_terms == "custom" and self.due_days is None:
            raise ValueError("custom payment terms need due_days")
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


class RecurringProfile(_ProfileFields):
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
