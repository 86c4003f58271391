"""Models of the payment routes.

A payment is answered with a summary of its invoice as it is now (status, amount
paid, balance due) and the invoice's client, so a frontend recording a payment
learns the invoice's new state in the same answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal, get_args
from uuid import UUID

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from shared.fields import blank_to_none
from shared.models import Input, Output

PaymentMethod = Literal["bank_transfer", "credit_card", "paypal", "check", "cash", "other"]
PAYMENT_METHODS: tuple[str, ...] = get_args(PaymentMethod)
InvoiceStatus = Literal["draft", "sent", "paid", "overdue", "cancelled"]

EARLIEST_PAYMENT_DATE = date(2000, 1, 1)


def _not_in_the_future(value: date) -> date:
    # One day of slack: the payer's "today" may be tomorrow in UTC. The database
    # checks again with its own clock.
    latest = datetime.now(UTC).date() + timedelta(days=1)
    if value > latest:
        raise PydanticCustomError(
            "date_in_future",
            "must not be after {latest}: record payments once received",
            {"latest": latest.isoformat()},
        )
    if value < EARLIEST_PAYMENT_DATE:
        raise PydanticCustomError("date_too_early", "must not be before 2000-01-01")
    return value


Amount = Annotated[
    Decimal,
    Field(
        gt=0,
        lt=Decimal("1e12"),
        decimal_places=3,
        allow_inf_nan=False,
        description="Greater than 0, in the invoice's currency; at most as many decimals as "
        "the currency has (USD 2, JPY 0, KWD 3). Decimal string or JSON number.",
        examples=["250.00"],
    ),
]
PaymentDate = Annotated[
    date,
    AfterValidator(_not_in_the_future),
    Field(description="When the money was received; at most one day ahead, not before 2000."),
]
Reference = Annotated[
    Annotated[str, StringConstraints(max_length=100)] | None,
    BeforeValidator(blank_to_none),
    Field(description="The bank or processor's reference (at most 100); blank is null."),
]
Notes = Annotated[
    Annotated[str, StringConstraints(max_length=2000)] | None,
    BeforeValidator(blank_to_none),
    Field(description="At most 2000 characters; blank is null."),
]


class PaymentCreate(Input):
    invoice_id: UUID = Field(description="A sent or overdue invoice of the organization.")
    amount: Amount
    payment_date: PaymentDate | None = Field(default=None, description="Default: today.")
    payment_method: PaymentMethod = "bank_transfer"
    reference_number: Reference = None
    notes: Notes = None


class PaymentUpdate(Input):
    """A partial change: fields present change, absent ones stay; null clears the
    reference and the notes. A payment cannot move to another invoice."""

    amount: Amount | None = None
    payment_date: PaymentDate | None = None
    payment_method: PaymentMethod | None = None
    reference_number: Reference = None
    notes: Notes = None

    @field_validator("amount", "payment_date", "payment_method")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for fields given in the body: absent stays absent, null is refused.
        if value is None:
            raise PydanticCustomError("not_null", "may be left out, but not null")
        return value


class PaymentClient(Output):
    id: UUID
    company_name: str


class PaymentInvoice(Output):
    """The payment's invoice as it is now."""

    id: UUID
    invoice_number: str
    status: InvoiceStatus
    currency: str
    due_date: date
    total_amount: Decimal
    amount_paid: Decimal
    amount_credited: Decimal
    balance_due: Decimal
    client_id: UUID
    client: PaymentClient | None = None


class Payment(Output):
    id: UUID
    invoice_id: UUID
    amount: Decimal
    applied_amount: Decimal = Field(
        description="What of the payment counts on its invoice (the rest was refunded or is "
        "the client's credit: an overpayment, or released by a credit note)"
    )
    refunded_amount: Decimal = Field(description="What of the payment was refunded")
    currency: str
    payment_date: date
    payment_method: PaymentMethod
    reference_number: str | None
    notes: str | None
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    invoice: PaymentInvoice


# What GET /api/payments and GET /api/payments/{id} read from PostgREST: the same
# shape the payment RPCs answer with (private.payment_json). `!inner` lets the
# list filter on the invoice's client.
# The invoice is a plain (left) embedding: a payment always has its invoice, and an
# inner one would make the page's count join every payment of the tenant to its invoice.
# Only the client filter needs the inner join.
PAYMENT_SELECT = (
    "id,invoice_id,amount,applied_amount,refunded_amount,currency,payment_date,payment_method,"
    "reference_number,notes,created_by,created_at,updated_at,"
    "invoice:invoices(id,invoice_number,status,currency,due_date,total_amount,"
    "amount_paid,amount_credited,balance_due,client_id,client:clients(id,company_name))"
)


PAYMENT_SELECT_BY_CLIENT = PAYMENT_SELECT.replace("invoice:invoices(", "invoice:invoices!inner(")
