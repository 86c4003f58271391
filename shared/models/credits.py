"""Models of the credit notes, refunds and client credit routes (docs/api.md, "Credit
notes, refunds and client credit").

The rules (what may be credited, refunded or applied, and what follows for the invoice
and the client's credit) are the database's: migration
``20261206110200_credit_notes.sql``. Requests are checked here for their shape first:
unknown fields refused, amounts ``Decimal`` within bounds, which fields go with which
kind, each refusal naming its field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from shared.fields import blank_to_none
from shared.models import Input, Output, SealedInstructions
from shared.models.delivery import SendRecipients
from shared.models.invoices import Quantity, TaxBreakdownGroup, VatCategory
from shared.models.payments import Amount, PaymentDate, PaymentMethod

CreditNoteKind = Literal["whole", "lines", "amount"]
CREDIT_NOTE_KINDS: tuple[str, ...] = get_args(CreditNoteKind)
RefundSource = Literal["payment", "credit"]
REFUND_SOURCES: tuple[str, ...] = get_args(RefundSource)
InvoiceStatus = Literal["draft", "sent", "paid", "overdue", "cancelled"]
EntryKind = Literal["credit_note", "overpayment", "refund", "applied"]

MAX_LINES = 200


def _text(limit: int, what: str) -> Any:
    return Field(default=None, description=f"{what} (at most {limit} characters); blank is null.")


Reason = Annotated[
    Annotated[str, StringConstraints(max_length=500)] | None, BeforeValidator(blank_to_none)
]
Notes = Annotated[
    Annotated[str, StringConstraints(max_length=5000)] | None, BeforeValidator(blank_to_none)
]
LineText = Annotated[
    Annotated[str, StringConstraints(max_length=2000)] | None, BeforeValidator(blank_to_none)
]
Reference = Annotated[
    Annotated[str, StringConstraints(max_length=100)] | None, BeforeValidator(blank_to_none)
]
RefundNotes = Annotated[
    Annotated[str, StringConstraints(max_length=2000)] | None, BeforeValidator(blank_to_none)
]


# =============================================================================
# Requests
# =============================================================================


class CreditNoteLineCreate(Input):
    invoice_item_id: UUID = Field(description="An item of the credited invoice.")
    quantity: Quantity = Field(
        description="How much of the item to credit: at most what is not yet credited."
    )


class CreditNoteCreate(Input):
    """A credit note against a sent, overdue or paid invoice: ``whole`` (what is left to
    credit), ``lines`` (items and quantities) or ``amount`` (tax included)."""

    invoice_id: UUID = Field(description="A sent, overdue or paid invoice of the organization.")
    kind: CreditNoteKind
    lines: list[CreditNoteLineCreate] | None = Field(
        default=None,
        validate_default=True,
        min_length=1,
        max_length=MAX_LINES,
        description="For kind lines (required there, refused otherwise).",
    )
    amount: Amount | None = Field(
        default=None,
        validate_default=True,
        description="For kind amount (required there, refused otherwise): the credit, tax "
        "included, at most what the invoice has not yet credited.",
    )
    description: LineText = _text(2000, "For kind amount: the line's text")
    issue_date: date | None = Field(
        default=None, description="Default: today where the business is."
    )
    reason: Reason = _text(500, "Why the invoice is credited")
    notes: Notes = _text(5000, "Printed on the credit note")

    @field_validator("lines")
    @classmethod
    def _lines_with_their_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind == "lines" and value is None:
            raise PydanticCustomError("missing", "required for a credit note of kind lines")
        if kind is not None and kind != "lines" and value is not None:
            raise PydanticCustomError("not_allowed", "only for a credit note of kind lines")
        return value

    @field_validator("amount")
    @classmethod
    def _amount_with_its_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind == "amount" and value is None:
            raise PydanticCustomError("missing", "required for a credit note of kind amount")
        if kind is not None and kind != "amount" and value is not None:
            raise PydanticCustomError("not_allowed", "only for a credit note of kind amount")
        return value

    @field_validator("description")
    @classmethod
    def _description_with_amount(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("kind") not in (None, "amount"):
            raise PydanticCustomError("not_allowed", "only for a credit note of kind amount")
        return value

    def credit_note_json(self) -> dict[str, Any]:
        """The body of public.create_credit_note's ``credit_note`` (the invoice aside)."""
        doc = self.to_json()
        doc.pop("invoice_id")
        return {k: v for k, v in doc.items() if v is not None}


class RefundCreate(Input):
    """Money returned to a client: from a payment (``payment_id``) or from the client's
    credit (``client_id``), one of the two."""

    payment_id: UUID | None = Field(
        default=None,
        description="Refund from this payment: at most what of it still counts on its invoice.",
    )
    client_id: UUID | None = Field(
        default=None,
        validate_default=True,
        description="Refund from this client's credit: at most its credit balance.",
    )
    amount: Amount
    refund_date: PaymentDate | None = Field(default=None, description="Default: today.")
    refund_method: PaymentMethod = "bank_transfer"
    reference_number: Reference = Field(default=None, description="At most 100 characters.")
    notes: RefundNotes = Field(default=None, description="At most 2000 characters.")

    @field_validator("client_id")
    @classmethod
    def _one_source(cls, value: Any, info: ValidationInfo) -> Any:
        if "payment_id" not in info.data:
            return value  # payment_id itself was refused
        payment = info.data.get("payment_id")
        if payment is None and value is None:
            raise PydanticCustomError(
                "missing", "give payment_id (refund from a payment) or client_id (from credit)"
            )
        if payment is not None and value is not None:
            raise PydanticCustomError("not_allowed", "give payment_id or client_id, not both")
        return value


class CreditApply(Input):
    # Optional in the model so that another organization's client is 404 before the body
    # is judged; the route refuses a missing one (422 naming it).
    invoice_id: UUID | None = Field(
        default=None,
        description="Required: a sent or overdue invoice of the client with a balance due.",
    )
    amount: Amount | None = Field(
        default=None,
        description="Default: as much as the credit and the invoice's balance allow.",
    )


# =============================================================================
# Responses
# =============================================================================


class CreditNoteItem(Output):
    id: UUID
    invoice_item_id: UUID | None = None
    position: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    vat_category: VatCategory = Field(description="The invoice line's (effective) category")
    tax_rate: Decimal = Field(description="The invoice line's (effective) rate")
    tax_exemption_reason_code: str | None = None
    tax_exemption_reason: str | None = None


class CreditedInvoice(Output):
    """The credited invoice as it is now."""

    id: UUID
    invoice_number: str
    status: InvoiceStatus
    total_amount: Decimal | None = None
    amount_paid: Decimal | None = None
    amount_credited: Decimal | None = None
    balance_due: Decimal | None = None


class CreditNoteClient(Output):
    id: UUID
    company_name: str


class _CreditNoteFields(Output):
    id: UUID
    invoice_id: UUID
    client_id: UUID
    currency: str
    credit_note_number: str
    kind: CreditNoteKind
    issue_date: date
    reason: str | None = None
    subtotal: Decimal
    discount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    credit_amount: Decimal = Field(description="What of the credit went to the client's credit.")
    sent_at: datetime | None = None
    created_by: UUID | None = None
    created_at: datetime
    updated_at: datetime


class CreditNoteSummary(_CreditNoteFields):
    """A row of GET /api/credit-notes."""

    invoice: CreditedInvoice
    client: CreditNoteClient


class CreditNote(_CreditNoteFields, SealedInstructions):
    """One credit note with its lines, its invoice as it is now and its client."""

    notes: str | None = None
    payment_instructions: str | None = Field(
        default=None, description="The credited invoice's (else the settings' default)"
    )
    default_vat_category: VatCategory | None = None
    buyer_reference: str | None = Field(default=None, description="The invoice's (BT-10)")
    purchase_order_reference: str | None = Field(default=None, description="The invoice's (BT-13)")
    items: list[CreditNoteItem]
    tax_breakdown: list[TaxBreakdownGroup] = Field(
        description="By (vat_category, tax_rate); the groups' tax sums to tax_amount"
    )
    invoice: CreditedInvoice
    client: CreditNoteClient


CREDIT_NOTE_SELECT = (
    "*,invoice:invoices(id,invoice_number,status,total_amount,amount_paid,amount_credited,"
    "balance_due),client:clients(id,company_name)"
)


class RefundPayment(Output):
    id: UUID
    amount: Decimal
    payment_date: date
    applied_amount: Decimal
    refunded_amount: Decimal


class Refund(Output):
    id: UUID
    client_id: UUID
    currency: str
    source: RefundSource
    payment_id: UUID | None = None
    invoice_id: UUID | None = None
    amount: Decimal
    refund_date: date
    refund_method: PaymentMethod
    reference_number: str | None = None
    notes: str | None = None
    created_by: UUID | None = None
    created_at: datetime
    client: CreditNoteClient
    payment: RefundPayment | None = None
    invoice: CreditedInvoice | None = None


REFUND_SELECT = (
    "*,client:clients(id,company_name),"
    "payment:payments(id,amount,payment_date,applied_amount,refunded_amount),"
    "invoice:invoices(id,invoice_number,status,total_amount,amount_paid,amount_credited,"
    "balance_due)"
)


class CreditBalance(Output):
    currency: str
    balance: Decimal


class CreditEntry(Output):
    id: UUID
    currency: str
    kind: EntryKind
    amount: Decimal = Field(description="Positive adds to the credit, negative takes from it.")
    credit_note_id: UUID | None = None
    payment_id: UUID | None = None
    refund_id: UUID | None = None
    invoice_id: UUID | None = None
    created_by: UUID | None = None
    created_at: datetime


class ClientCredit(Output):
    client_id: UUID
    company_name: str
    balances: list[CreditBalance]
    entries: list[CreditEntry] = Field(description="The ledger, newest first (at most 100).")


class CreditApplied(Output):
    applied: Decimal
    currency: str
    invoice: CreditedInvoice
    client_credit: Decimal = Field(description="The client's credit left in the currency.")


class CreditNoteSendRecord(Output):
    credit_note_id: UUID
    recipients: SendRecipients
    subject: str
    ses_message_id: str
    sent_by: UUID | None = None
    sent_at: datetime


class CreditNoteSendResult(Output):
    """POST /api/credit-notes/{id}/send: the send and the credit note as it is now."""

    send: CreditNoteSendRecord
    credit_note: CreditNote
