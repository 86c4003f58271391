"""Payables: approval rules, the approval queue and decisions, payment batches and the
organization's debtor account (docs/api.md, "Payables: approvals and payment batches";
migration 20261206150100_approvals.sql)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from shared.models import Input, Relayed
from shared.models.common import DecimalText, Timestamp

OUTCOMES = ("matched", "matched_with_tolerance", "resolved_exception")
ROLES = ("owner", "admin", "member")
BATCH_STATUSES = ("draft", "paid", "cancelled")
EXPORT_FORMATS = ("pain.001", "csv")

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), max_digits=17, decimal_places=4)]
Iban = Annotated[str, StringConstraints(strip_whitespace=True, min_length=15, max_length=42)]
Bic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=11)]


class ApprovalStep(Input):
    """One step: a role (that role or above approves) or the members named."""

    approver_role: Literal["owner", "admin", "member"] | None = None
    approvers: list[UUID] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_kind(self) -> ApprovalStep:
        if (self.approver_role is None) == (self.approvers is None):
            raise PydanticCustomError(
                "one_kind_of_approver", "a step names either approver_role or approvers"
            )
        return self

    def to_rule_json(self) -> dict[str, Any]:
        if self.approver_role is not None:
            return {"approver_role": self.approver_role}
        return {"approvers": [str(a) for a in self.approvers or []]}


class ApprovalRuleFields(Input):
    name: RuleName | None = None
    priority: Annotated[int, Field(ge=1, le=100000)] | None = None
    active: bool | None = None
    currency: Currency | None = None
    min_amount: Amount | None = None
    max_amount: Amount | None = None
    vendor_id: UUID | None = None
    outcomes: (
        Annotated[
            list[Literal["matched", "matched_with_tolerance", "resolved_exception"]],
            Field(min_length=1, max_length=3),
        ]
        | None
    ) = None
    steps: Annotated[list[ApprovalStep], Field(min_length=1, max_length=5)] | None = None

    def row(self) -> dict[str, Any]:
        data = self.to_json(exclude_unset=True)
        if self.steps is not None:
            data["steps"] = [s.to_rule_json() for s in self.steps]
        return data


class ApprovalRuleCreate(ApprovalRuleFields):
    required_in_document = ("name", "priority", "steps")

    @model_validator(mode="after")
    def _required(self) -> ApprovalRuleCreate:
        for name in ("name", "priority", "steps"):
            if getattr(self, name) is None:
                raise PydanticCustomError("missing", f"{name} is required")
        return self


class ApprovalRuleUpdate(ApprovalRuleFields):
    @model_validator(mode="after")
    def _something(self) -> ApprovalRuleUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one field to change")
        for name in ("name", "priority", "steps", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise PydanticCustomError("not_null", f"{name} cannot be null")
        return self


class ApprovalRule(Relayed):
    id: UUID
    organization_id: UUID
    name: str
    priority: int
    active: bool
    currency: str | None = None
    min_amount: DecimalText | None = None
    max_amount: DecimalText | None = None
    vendor_id: UUID | None = None
    outcomes: list[str] | None = None
    steps: list[dict[str, Any]]
    created_by: UUID | None = None
    created_at: Timestamp
    updated_at: Timestamp


class ApprovalReject(Input):
    required_in_document = ("reason",)

    reason: Reason | None = Field(default=None, description="required: why (1-1000 characters)")


class ApprovalApprove(Input):
    reason: Reason | None = Field(default=None, description="an optional note")


class ApprovalReassign(Input):
    required_in_document = ("member",)

    member: UUID | None = Field(default=None, description="required: the member's user id")


class ApprovalStepOut(Relayed):
    id: UUID
    round: int
    step: int
    steps: int
    rule_id: UUID | None = None
    rule_name: str
    outcome: str
    approver_role: str | None = None
    approvers: list[UUID] | None = None
    status: str
    decided_by: UUID | None = None
    decided_at: Timestamp | None = None
    reason: str | None = None
    reassigned_by: UUID | None = None
    reassigned_at: Timestamp | None = None
    activated_at: Timestamp | None = None


class InvoiceApproval(Relayed):
    id: UUID
    invoice_number: str
    vendor_id: UUID | None = None
    vendor_name: str
    currency: str
    total_amount: DecimalText
    status: str
    steps: list[ApprovalStepOut]


class QueueItem(Relayed):
    step_id: UUID
    vendor_invoice_id: UUID
    invoice_number: str
    vendor_id: UUID | None = None
    vendor_name: str
    invoice_date: date
    due_date: date | None = None
    currency: str
    total_amount: DecimalText
    invoice_status: str
    outcome: str
    round: int
    step: int
    steps: int
    rule_id: UUID | None = None
    rule_name: str
    approver_role: str | None = None
    approvers: list[UUID] | None = None
    waiting_since: Timestamp


class ApprovalQueue(Relayed):
    data: list[QueueItem]
    page_size: int
    next_after: UUID | None = None


class PaymentBatchCreate(Input):
    required_in_document = ("invoice_ids",)

    invoice_ids: Annotated[list[UUID], Field(min_length=1, max_length=1000)] | None = None
    execution_date: date | None = Field(default=None, description="today or later (default today)")


class PaymentBatchPaid(Input):
    required_in_document = ("reference",)

    reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)]
        | None
    ) = Field(default=None, description="required: the bank's reference of the payment")


class BatchTotal(Relayed):
    currency: str
    count: int
    total: DecimalText = Field(description="what the batch pays: the invoices less their credit")


class BatchItemCredit(Relayed):
    vendor_credit_note_id: UUID
    credit_note_number: str
    amount: DecimalText


class BatchItem(Relayed):
    vendor_invoice_id: UUID
    invoice_number: str
    invoice_date: date
    due_date: date | None = None
    vendor_id: UUID | None = None
    vendor_name: str
    vendor_iban: str | None = None
    vendor_bic: str | None = None
    currency: str
    amount: DecimalText = Field(
        description="what is paid: the invoice's total less the vendor credit applied to it"
    )
    invoice_amount: DecimalText | None = None
    credited: DecimalText | None = None
    credit_notes: list[BatchItemCredit] = Field(default_factory=list)
    status: str


class PaymentBatch(Relayed):
    id: UUID
    organization_id: UUID
    status: str
    execution_date: date
    reference: str | None = None
    message_id: str
    created_by: UUID | None = None
    created_at: Timestamp
    paid_by: UUID | None = None
    paid_at: Timestamp | None = None
    cancelled_by: UUID | None = None
    cancelled_at: Timestamp | None = None
    totals: list[BatchTotal]
    items: list[BatchItem]


class PaymentBatchSummary(Relayed):
    id: UUID
    status: str
    execution_date: date
    reference: str | None = None
    created_at: Timestamp
    paid_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None


class PayablesSettings(Relayed):
    organization_id: UUID
    debtor_name: str | None = None
    debtor_iban: str | None = None
    debtor_bic: str | None = None


class PayablesSettingsUpdate(Input):
    debtor_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=70)] | None
    ) = None
    debtor_iban: Iban | None = None
    debtor_bic: Bic | None = None

    @model_validator(mode="after")
    def _something(self) -> PayablesSettingsUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one setting to change")
        return self


class VendorBankAccount(Input):
    required_in_document = ("iban",)

    iban: Iban | None = None
    bic: Bic | None = None


class VendorBankAccountOut(Relayed):
    id: UUID
    name: str
    iban: str | None = None
    bic: str | None = None


# Vendor credit notes (migration 20261206171500_vendor_credit_notes.sql).
CREDIT_NOTE_STATUSES = ("open", "partially_applied", "applied")


class CreditApply(Input):
    required_in_document = ("vendor_invoice_id",)

    vendor_invoice_id: UUID | None = Field(
        default=None, description="an approved, unpaid invoice of the credit note's vendor"
    )
    amount: (
        Annotated[Decimal, Field(gt=0, lt=Decimal("1e12"), max_digits=17, decimal_places=4)] | None
    ) = Field(
        default=None,
        description="default: as much as both allow (the credit available, the invoice's open "
        "amount)",
    )


class CreditUnapply(Input):
    required_in_document = ("vendor_invoice_id",)

    vendor_invoice_id: UUID | None = None


class VendorCreditNoteSummary(Relayed):
    id: UUID
    vendor_id: UUID | None = None
    vendor_name: str
    credit_note_number: str
    credit_note_date: date
    currency: str
    total_amount: DecimalText
    applied_amount: DecimalText
    available_amount: DecimalText
    status: str
    preceding_invoice_reference: str | None = None
    vendor_invoice_id: UUID | None = None
    source_format: str | None = None
    created_at: Timestamp


class CreditVendor(Relayed):
    id: UUID
    name: str
    status: str


class CreditInvoice(Relayed):
    id: UUID
    invoice_number: str
    status: str
    currency: str
    total_amount: DecimalText


class CreditNoteLine(Relayed):
    id: UUID
    line_number: int
    item_code: str | None = None
    description: str
    quantity: DecimalText
    unit_price: DecimalText
    amount: DecimalText
    vat_category: str | None = None
    tax_rate: DecimalText | None = None


class CreditApplication(Relayed):
    id: UUID
    vendor_invoice_id: UUID
    invoice_number: str
    invoice_status: str
    amount: DecimalText
    automatic: bool
    applied_by: UUID | None = None
    created_at: Timestamp


class VendorCreditNote(VendorCreditNoteSummary):
    organization_id: UUID
    due_date: date | None = None
    subtotal: DecimalText
    tax_amount: DecimalText
    preceding_invoice_date: date | None = None
    notes: str | None = None
    import_batch_id: UUID | None = None
    created_by: UUID | None = None
    updated_at: Timestamp
    vendor: CreditVendor | None = None
    invoice: CreditInvoice | None = None
    lines: list[CreditNoteLine]
    applications: list[CreditApplication]
