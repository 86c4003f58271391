"""Models of the quotes routes (docs/api.md, "Quotes").

Requests are checked here before any database call, with the invoices' field types
(amounts as ``Decimal`` within the database's bounds and scales, sane dates, unknown
fields refused); what depends on stored data (the client's currency, the discount against
the subtotal, what may change once sent, valid_until against today where the business
is) is the database's to refuse (migration 20261206110300_quotes.sql).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, ValidationInfo, field_validator, model_validator

from shared.models import Input, Output, SealedInstructions
from shared.models.common import Day
from shared.models.delivery import SendRecipients
from shared.models.invoices import (
    MAX_ITEMS,
    ClientRef,
    Description,
    Discount,
    Invoice,
    InvoiceClient,
    InvoiceStatus,
    LineTax,
    LongText,
    Quantity,
    Rate,
    Reference,
    TaxBreakdownGroup,
    TaxRate,
    Template,
    VatCategory,
    refuse_standard_lines_without_rate,
)

QuoteStatus = Literal["draft", "sent", "accepted", "declined", "expired", "converted"]
STATUSES: tuple[str, ...] = ("draft", "sent", "accepted", "declined", "expired", "converted")


def _valid_not_before_issue(valid: dt.date | None, info: ValidationInfo) -> dt.date | None:
    issued = info.data.get("issue_date")
    if valid is not None and isinstance(issued, dt.date) and valid < issued:
        raise ValueError(f"valid_until must not be before the issue date ({issued})")
    return valid


# =============================================================================
# Requests
# =============================================================================


class QuoteItemInput(LineTax):
    """A line of a quote; its amount is the database's (quantity x rate, rounded)."""

    description: Description
    quantity: Quantity
    rate: Rate


class QuoteCreate(Input):
    """POST /api/quotes. Left out: the number comes from the organization's quote
    counter, the issue date is today where the business is, valid_until 30 days later,
    the tax rate, template, notes and terms are the organization's defaults."""

    client_id: UUID
    issue_date: Day | None = None
    valid_until: Day | None = None
    tax_rate: TaxRate | None = None
    discount: Discount = Decimal(0)
    notes: LongText | None = None
    terms: LongText | None = None
    template: Template | None = None
    default_vat_category: VatCategory | None = None
    buyer_reference: Reference | None = Field(
        default=None, description="BT-10, copied to the invoice"
    )
    purchase_order_reference: Reference | None = Field(
        default=None, description="BT-13, copied to the invoice"
    )
    items: list[QuoteItemInput] = Field(min_length=1, max_length=MAX_ITEMS)

    _valid = field_validator("valid_until")(_valid_not_before_issue)

    @model_validator(mode="after")
    def _standard_lines_have_a_rate(self) -> QuoteCreate:
        refuse_standard_lines_without_rate(self.items, self.tax_rate, type(self).__name__)
        return self

    def quote_json(self) -> dict[str, Any]:
        """The fields given (the database fills in the organization's defaults)."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"items"})

    def items_json(self) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.items]


_NOT_NULL = (
    "client_id",
    "issue_date",
    "valid_until",
    "status",
    "tax_rate",
    "discount",
    "template",
    "items",
)


class QuoteUpdate(Input):
    """PATCH /api/quotes/{id}: the fields present change (``null`` clears notes and
    terms); ``items`` is the whole new list. What may change depends on the status
    (docs/api.md, "Quotes")."""

    client_id: UUID | None = None
    issue_date: Day | None = None
    valid_until: Day | None = None
    status: Literal["sent"] | None = Field(
        default=None, description="`sent` marks a draft sent without emailing it"
    )
    tax_rate: TaxRate | None = None
    discount: Discount | None = None
    notes: LongText | None = None
    terms: LongText | None = None
    template: Template | None = None
    default_vat_category: VatCategory | None = None
    buyer_reference: Reference | None = None
    purchase_order_reference: Reference | None = None
    items: list[QuoteItemInput] | None = Field(
        default=None, min_length=1, max_length=MAX_ITEMS, description="The whole new list"
    )

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    _valid = field_validator("valid_until")(_valid_not_before_issue)

    def changes_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, exclude={"items"})

    def items_json(self) -> list[dict[str, Any]] | None:
        return None if self.items is None else [item.to_json() for item in self.items]


# =============================================================================
# Responses
# =============================================================================


class QuoteItem(Output):
    id: UUID
    position: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal = Field(description="quantity x rate, rounded half-up to the currency")
    vat_category: VatCategory = Field(description="Effective: the line's or the quote's")
    tax_rate: Decimal = Field(description="Effective: the line's or the quote's")
    tax_exemption_reason_code: str | None = None
    tax_exemption_reason: str | None = None


class QuoteInvoice(Output):
    """The invoice a converted quote was made into."""

    id: UUID
    invoice_number: str
    status: InvoiceStatus


class _QuoteFields(Output):
    id: UUID
    client_id: UUID
    quote_number: str
    issue_date: dt.date
    valid_until: dt.date
    status: QuoteStatus
    currency: str
    subtotal: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    discount: Decimal
    total_amount: Decimal
    template: Template
    invoice_id: UUID | None = Field(default=None, description="The invoice made from it")
    sent_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    declined_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    converted_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class QuoteSummary(_QuoteFields):
    """A row of GET /api/quotes: the quote without items, with its client's name."""

    client: ClientRef

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> QuoteSummary:
        return cls.model_validate(
            {
                **row,
                "client": {"id": row.get("client_id"), "company_name": row["client_company_name"]},
            }
        )


class Quote(_QuoteFields, SealedInstructions):
    """One quote, whole: its items (in order), its client and the invoice made from it."""

    created_by: UUID | None = None
    notes: str | None = None
    terms: str | None = None
    payment_instructions: str | None = Field(
        default=None,
        description="The settings' default when the quote was made (its invoice keeps them)",
    )
    default_vat_category: VatCategory | None = None
    buyer_reference: str | None = None
    purchase_order_reference: str | None = None
    client: InvoiceClient
    items: list[QuoteItem]
    tax_breakdown: list[TaxBreakdownGroup] = Field(
        description="By (vat_category, tax_rate); the groups' tax sums to tax_amount"
    )
    invoice: QuoteInvoice | None = None


class QuoteSendRecord(Output):
    quote_id: UUID
    recipients: SendRecipients
    subject: str
    ses_message_id: str
    sent_by: UUID | None = None
    sent_at: dt.datetime


class QuoteSendResult(Output):
    send: QuoteSendRecord
    quote: Quote


class QuoteConversion(Output):
    """POST /api/quotes/{id}/convert: the converted quote and the draft invoice made."""

    quote: Quote
    invoice: Invoice
