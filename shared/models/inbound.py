"""Invoices in by email: the inbound address and its settings, inbound messages with a
result per attachment, and the drafts read from PDFs (docs/api.md, "Payables: invoices
in by email"; migration 20261206170600_email_intake.sql)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from shared.models import Input, Relayed
from shared.models.common import DecimalText, Timestamp

MESSAGE_STATUSES = ("received", "imported", "quarantined", "rejected", "released")
DRAFT_STATUSES = ("needs_confirmation", "confirmed", "discarded")

Sender = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=254,
        pattern=(
            r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64})?"
            r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
        ),
    ),
]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text50 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), max_digits=16, decimal_places=4)]


class InboundSettings(Relayed):
    organization_id: UUID
    address: str
    allowed_senders: list[str]
    allow_members: bool
    max_message_bytes: int
    max_attachments: int
    max_attachment_bytes: int
    updated_at: Timestamp


class InboundSettingsUpdate(Input):
    """The fields given change; ``rotate_address`` gives the organization a new address."""

    allowed_senders: list[Sender] | None = Field(default=None, max_length=100)
    allow_members: bool | None = None
    max_message_bytes: Annotated[int, Field(ge=10_240, le=31_457_280)] | None = None
    max_attachments: Annotated[int, Field(ge=1, le=50)] | None = None
    max_attachment_bytes: Annotated[int, Field(ge=1024, le=31_457_280)] | None = None
    rotate_address: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """Left out: unchanged; null is refused here (the columns are not null), where the
        database's refusal named the column (found by the fuzzing once seeded)."""
        if value is None:
            raise PydanticCustomError("not_null", "this field cannot be null")
        return value


class InboundAttachment(Relayed):
    position: int
    filename: str | None = None
    content_type: str | None = None
    size_bytes: int
    sha256: str
    kind: str
    outcome: str
    message: str | None = None
    vendor_invoice_ids: list[UUID] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    # A CSV file's documents: vendor_invoices, purchase_orders or goods_receipts (by its
    # header row), their batch and the purchase orders or receipts it made.
    document_kind: str | None = None
    import_batch_id: UUID | None = None
    purchase_order_ids: list[UUID] = Field(default_factory=list)
    goods_receipt_ids: list[UUID] = Field(default_factory=list)


class InboundMessageSummary(Relayed):
    id: UUID
    message_id: str
    from_address: str | None = None
    from_name: str | None = None
    subject: str | None = None
    recipient: str | None = None
    received_at: Timestamp
    sent_at: Timestamp | None = None
    size_bytes: int
    attachment_count: int
    status: str
    reason: str | None = None
    import_batch_id: UUID | None = None
    imported_by: UUID | None = None
    released_by: UUID | None = None
    released_at: Timestamp | None = None
    # SES's verdicts on the sender (spf, dkim, dmarc, spam, virus) and the decision
    # (authenticated, reason); null for a message recorded before they were read.
    authentication: dict[str, Any] | None = None


class InboundMessage(InboundMessageSummary):
    attachments: list[InboundAttachment] = Field(default_factory=list)


class InboundDraft(Relayed):
    id: UUID
    inbound_message_id: UUID
    inbound_attachment_id: UUID
    status: str
    vendor_name: str | None = None
    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    po_number: str | None = None
    currency: str | None = None
    subtotal: DecimalText | None = None
    tax_amount: DecimalText | None = None
    total_amount: DecimalText | None = None
    text_excerpt: str | None = None
    vendor_invoice_id: UUID | None = None
    decided_by: UUID | None = None
    decided_at: Timestamp | None = None
    created_at: Timestamp


class DraftLine(Input):
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ]
    item_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )
    quantity: Annotated[Decimal, Field(gt=0, lt=Decimal("1e9"), max_digits=13, decimal_places=4)]
    unit_price: Amount


class DraftConfirm(Input):
    """What the person confirms: the draft's fields as read, with the ones given here
    replacing them; without ``lines``, one line of the net amount (total - tax)."""

    vendor_name: Text200 | None = None
    invoice_number: Text50 | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    po_number: Text50 | None = None
    currency: Currency | None = None
    tax_amount: Amount | None = None
    total_amount: Amount | None = None
    lines: list[DraftLine] | None = Field(default=None, min_length=1, max_length=1000)


class DraftConfirmed(Relayed):
    draft: InboundDraft
    vendor_invoice_id: UUID
    matching: dict[str, Any] | None = None
