"""Request and response models of the reconciliation routes (docs/api.md,
"Reconciliation: vendors, matching and exceptions").

Answers are built by SQL functions (supabase/migrations/20261206101400_matching.sql)
as JSON with every amount, quantity and tolerance as a decimal string; the routes pass
them on. Bodies mirror the database's checks so bad input is refused with a field path;
references (a vendor, a purchase order of the body) are checked by the database, after
the path's id, so another organization's id is a 404 whatever the body says.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.fields import blank_to_none
from shared.models import Input, Output, Relayed
from shared.models.common import DecimalText, Timestamp
from shared.models.contact import Address, Email, Notes, Phone

VENDOR_STATUSES: tuple[str, ...] = ("active", "inactive", "merged")
INVOICE_STATUSES: tuple[str, ...] = (
    "pending",
    "matched",
    "matched_with_tolerance",
    "exception",
    "approved",
    "rejected",
    "paid",  # paid in a payment batch (migration 20261206150100_approvals.sql)
)
EXCEPTION_TYPES: tuple[str, ...] = (
    "unknown_vendor",
    "duplicate_invoice",
    "missing_po",
    "po_closed",
    "currency_mismatch",
    "missing_po_line",
    "over_billed_quantity",
    "price_variance",
    "total_variance",
)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
EXCEPTION_STATUSES: tuple[str, ...] = ("open", "resolved", "dismissed")
MAX_MATCH_IDS = 1000


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "this field cannot be null")
    return value


Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=12, decimal_places=4)]
Amount = Annotated[Decimal, Field(ge=0, lt=Decimal("1e9"), max_digits=16, decimal_places=4)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
VendorName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
TaxId = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None,
    BeforeValidator(blank_to_none),
]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
MatchMode = Literal["three_way", "two_way"]
MATCH_MODE_HELP = (
    "three_way (invoice, PO and receipts) or two_way (invoice and PO only: the billed "
    "quantity is compared with the ordered one, receipts are not required); null: inherit "
    "(PO line > PO > vendor > the organization's three_way)"
)

_VENDOR_NOT_NULL = ("name", "status")


class VendorUpdate(Input):
    """A partial update of a vendor: details and tolerance overrides (``null`` = use the
    organization's)."""

    name: VendorName | None = None
    tax_id: TaxId = None
    email: Email = None
    phone: Phone = None
    address: Annotated[Address, Field(description="at most 500 characters")] = None
    default_currency: CurrencyCode | None = None
    status: Literal["active", "inactive"] | None = Field(
        default=None, description="merged is set by merging, never directly"
    )
    quantity_tolerance_percent: Percent | None = None
    price_tolerance_percent: Percent | None = None
    price_tolerance_amount: Amount | None = None
    total_tolerance_amount: Amount | None = None
    notes: Notes = None
    match_mode: MatchMode | None = Field(default=None, description=MATCH_MODE_HELP)

    @field_validator(*_VENDOR_NOT_NULL, mode="before")
    @classmethod
    def _required(cls, value: Any) -> Any:
        return _not_null(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 500:
            raise PydanticCustomError("too_long", "at most 500 characters")
        return value

    @model_validator(mode="after")
    def _something(self) -> VendorUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        return self.to_json(exclude_unset=True)


class VendorMerge(Input):
    required_in_document = ("vendor_id",)

    vendor_id: UUID | None = Field(
        default=None, description="the vendor merged into this one (required)"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class VendorSuggestionReject(Input):
    required_in_document = ("vendor_id",)

    vendor_id: UUID | None = Field(
        default=None, description="the suggested vendor that is a different one (required)"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class VendorAliasCreate(Input):
    required_in_document = ("alias",)

    alias: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        default=None, description="the other name (required): 1 to 200 characters"
    )


class VendorSplit(Input):
    required_in_document = ("alias_id",)

    alias_id: UUID | None = Field(default=None, description="the alias to split off (required)")
    create_vendor: bool = Field(
        default=True,
        description="true: the alias becomes a vendor of its own (a merged vendor comes "
        "back); false: its invoices become unknown-vendor invoices",
    )


class MatchRequest(Input):
    invoice_ids: list[UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MATCH_IDS,
        description=f"1 to {MAX_MATCH_IDS} vendor invoice ids; omitted: every pending and "
        "exception invoice of the organization",
    )


class ExceptionResolve(Input):
    required_in_document = ("action", "reason")

    action: Literal["accept", "dismiss", "reject", "link"] | None = Field(
        default=None, description="required"
    )
    reason: Reason | None = Field(default=None, description="required: why (1-1000 characters)")
    purchase_order_id: UUID | None = None
    purchase_order_line_id: UUID | None = None
    goods_receipt_id: UUID | None = None


class SettingsUpdate(Input):
    quantity_tolerance_percent: Percent | None = None
    price_tolerance_percent: Percent | None = None
    price_tolerance_amount: Amount | None = None
    total_tolerance_amount: Amount | None = None
    vendor_similarity_threshold: (
        Annotated[Decimal, Field(gt=0, le=1, max_digits=5, decimal_places=3)] | None
    ) = None
    auto_rematch: bool | None = None
    # The mode of a line whose line, purchase order and vendor name none (issue 20).
    default_match_mode: MatchMode | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _required(cls, value: Any) -> Any:
        return _not_null(value)

    @model_validator(mode="after")
    def _something(self) -> SettingsUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one setting to change")
        return self


# =============================================================================
# Responses: what the SQL functions and selects answer, key for key
# =============================================================================
#
# Relayed models: the routes pass the database's JSON on unchanged (amounts, quantities
# and tolerances as decimal texts, times as PostgreSQL writes them); the tests compare
# whole bodies, so a key the SQL adds and a model leaves out is caught.


class ReconciliationSettings(Relayed):
    """private.reconciliation_settings_json: the defaults until an admin saves some."""

    organization_id: UUID
    quantity_tolerance_percent: DecimalText
    price_tolerance_percent: DecimalText
    price_tolerance_amount: DecimalText
    total_tolerance_amount: DecimalText
    vendor_similarity_threshold: DecimalText
    auto_rematch: bool
    default_match_mode: MatchMode
    saved: bool = Field(description="false: the defaults, nothing saved yet")
    updated_by: UUID | None
    updated_at: Timestamp | None


class VendorAliasSummary(Relayed):
    id: UUID
    alias: str
    normalized_alias: str | None
    source: str = Field(description="import, confirmed or merge")


class VendorAlias(VendorAliasSummary):
    created_at: Timestamp


class VendorSuggestion(Relayed):
    vendor_id: UUID
    name: str
    similarity: DecimalText = Field(description="pg_trgm similarity, 3 decimals")
    via: Literal["name", "alias"]
    matched: str = Field(description="the other vendor's name or alias that is similar")


class VendorInvoiceCounts(Relayed):
    total: int
    exception: int
    pending: int


class _VendorFields(Relayed):
    id: UUID
    organization_id: UUID
    name: str
    normalized_name: str | None
    tax_id: str | None
    email: str | None
    phone: str | None
    address: str | None
    default_currency: str | None
    status: str = Field(description="active, inactive or merged")
    merged_into: UUID | None
    quantity_tolerance_percent: DecimalText | None = Field(description="null: the organization's")
    price_tolerance_percent: DecimalText | None
    price_tolerance_amount: DecimalText | None
    total_tolerance_amount: DecimalText | None
    notes: str | None
    match_mode: str | None = Field(default=None, description="null: the organization's three_way")
    iban: str | None = Field(default=None, description="where it is paid (PUT /api/payables/...)")
    bic: str | None = None
    created_at: Timestamp
    updated_at: Timestamp


class VendorSummary(_VendorFields):
    """A vendor in GET /api/reconciliation/vendors."""

    aliases: list[VendorAliasSummary]


class Vendor(_VendorFields):
    """private.vendor_json: a vendor with its aliases, merge suggestions and counts."""

    created_by: UUID | None
    aliases: list[VendorAlias]
    suggestions: list[VendorSuggestion] = Field(description="best first; none for a merged one")
    invoice_counts: VendorInvoiceCounts
    open_exceptions: int


class VendorAliasAdded(Vendor):
    rematched_invoices: int = Field(description="unknown-vendor invoices moved here, re-matched")


class VendorMerged(Vendor):
    merged_vendor_id: UUID
    moved_invoices: int


class VendorSplitOff(Vendor):
    new_vendor_id: UUID | None = Field(description="the alias's vendor; null: create_vendor false")
    moved_invoices: int


class VendorStatusRef(Relayed):
    id: UUID
    name: str
    status: str


class PurchaseOrderRef(Relayed):
    id: UUID
    po_number: str
    status: str
    vendor_id: UUID
    currency: str


class Tolerances(Relayed):
    """The tolerances a matching used (the vendor's overrides, else the organization's)."""

    quantity_tolerance_percent: DecimalText
    price_tolerance_percent: DecimalText
    price_tolerance_amount: DecimalText
    total_tolerance_amount: DecimalText


class InvoiceMatchSummary(Relayed):
    outcome: str
    open_exceptions: int
    total_variance: DecimalText
    lines_count: int
    lines_exception: int


class InvoiceMatch(Relayed):
    """An invoice's last matching (vendor_invoice_matches)."""

    outcome: str = Field(description="matched, matched_with_tolerance or exception")
    purchase_order_id: UUID | None
    po_matched_by: str | None
    currency: str
    lines_total: DecimalText
    expected_lines_total: DecimalText | None
    subtotal: DecimalText
    tax_amount: DecimalText
    total_amount: DecimalText
    subtotal_variance: DecimalText
    total_variance: DecimalText
    lines_count: int
    lines_matched: int
    lines_within_tolerance: int
    lines_exception: int
    open_exceptions: int
    tolerances: Tolerances
    matched_at: Timestamp


class LineMatch(Relayed):
    """A line's match evidence (vendor_invoice_line_matches): the PO line and how it was
    found, the quantities and prices compared, and ``rule``, the check that decided."""

    purchase_order_line_id: UUID | None
    matched_by: str | None
    outcome: str
    rule: str
    ordered_quantity: DecimalText | None
    received_quantity: DecimalText | None
    previously_billed_quantity: DecimalText | None
    billed_quantity: DecimalText
    allowed_quantity: DecimalText | None
    quantity_variance: DecimalText | None
    po_unit_price: DecimalText | None
    billed_unit_price: DecimalText
    price_variance: DecimalText | None
    price_allowance: DecimalText | None
    expected_amount: DecimalText
    billed_amount: DecimalText
    amount_variance: DecimalText
    match_mode: str | None = Field(
        default=None, description="three_way or two_way, as the line was matched; null: no PO line"
    )


class ExceptionLineMatch(LineMatch):
    vendor_invoice_line_id: UUID
    line_number: int


class VendorInvoiceLine(Relayed):
    id: UUID
    vendor_invoice_id: UUID
    currency: str
    line_number: int
    item_code: str | None
    normalized_item_code: str | None
    description: str
    quantity: DecimalText
    unit_price: DecimalText
    amount: DecimalText
    purchase_order_line_id: UUID | None
    po_line_linked_manually: bool
    created_at: Timestamp
    updated_at: Timestamp
    # The line's VAT as an e-invoice gives it (docs/api.md, "E-invoices in").
    vat_category: str | None = Field(default=None, description="UNCL5305: S, Z, E, AE, K ...")
    tax_rate: DecimalText | None = Field(default=None, description="percent")
    tax_exemption_reason_code: str | None = Field(default=None, description="VATEX code")
    tax_exemption_reason: str | None = None


class VendorInvoiceLineDetail(VendorInvoiceLine):
    match: LineMatch | None


class _ExceptionFields(Relayed):
    id: UUID
    organization_id: UUID
    vendor_invoice_id: UUID
    vendor_invoice_line_id: UUID | None
    vendor_id: UUID | None
    type: str = Field(description=", ".join(EXCEPTION_TYPES))
    check_name: str
    severity: str = Field(description=", ".join(SEVERITIES))
    line_number: int | None
    expected: str | None
    actual: str | None
    variance: DecimalText | None
    message: str
    status: str = Field(description=", ".join(EXCEPTION_STATUSES))
    resolution: str | None
    resolution_reason: str | None
    resolved_by: UUID | None
    resolved_at: Timestamp | None
    detected_at: Timestamp
    updated_at: Timestamp


class ReconciliationException(_ExceptionFields):
    """private.exception_json: an exception with its evidence."""

    evidence: dict[str, Any] = Field(
        description="what the check compared (its keys depend on the type and check)"
    )
    last_detected_at: Timestamp
    created_at: Timestamp


class ExceptionInvoiceSummary(Relayed):
    invoice_number: str
    vendor_name: str
    invoice_date: date
    currency: str
    total_amount: DecimalText
    status: str


class ExceptionSummary(_ExceptionFields):
    """An exception in GET /api/reconciliation/exceptions."""

    invoice: ExceptionInvoiceSummary | None


class ExceptionInvoice(Relayed):
    id: UUID
    invoice_number: str
    vendor_id: UUID | None
    vendor_name: str
    invoice_date: date
    po_number: str | None
    purchase_order_id: UUID | None
    currency: str
    subtotal: DecimalText
    tax_amount: DecimalText
    total_amount: DecimalText
    status: str


class ExceptionChange(Relayed):
    """A change of the exception, from the audit log."""

    changed_at: Timestamp
    changed_by: UUID | None
    operation: str
    status: str | None
    resolution: str | None
    reason: str | None


class ReconciliationExceptionDetail(ReconciliationException):
    invoice: ExceptionInvoice | None
    line: VendorInvoiceLine | None
    line_match: ExceptionLineMatch | None
    history: list[ExceptionChange]


class _VendorInvoiceFields(Relayed):
    id: UUID
    organization_id: UUID
    vendor_id: UUID | None = Field(description="null: an unknown vendor")
    vendor_name: str = Field(description="as written on the invoice")
    invoice_number: str
    invoice_date: date
    due_date: date | None
    po_number: str | None
    purchase_order_id: UUID | None
    po_linked_manually: bool
    currency: str
    subtotal: DecimalText
    tax_amount: DecimalText
    total_amount: DecimalText
    status: str = Field(description=", ".join(INVOICE_STATUSES))
    matched_at: Timestamp | None
    notes: str | None
    import_batch_id: UUID | None
    created_at: Timestamp
    updated_at: Timestamp
    # From e-invoices (docs/api.md, "E-invoices in"); null for the other imports.
    buyer_reference: str | None = Field(default=None, description="BT-10")
    purchase_order_reference: str | None = Field(default=None, description="BT-13, whole")
    allowance_total: DecimalText | None = Field(default=None, description="BT-107")
    charge_total: DecimalText | None = Field(default=None, description="BT-108")
    prepaid_amount: DecimalText | None = Field(default=None, description="BT-113")
    amount_due: DecimalText | None = Field(default=None, description="BT-115")
    tax_currency: str | None = Field(default=None, description="BT-6")
    tax_breakdown: list[dict[str, Any]] | None = Field(
        default=None, description="BG-23 as the document gives it"
    )
    source_format: str | None = Field(
        default=None, description="csv, json, ubl, cii, facturx, email, pdf"
    )
    source_hash: str | None = Field(default=None, description="SHA-256 of the document")


class VendorInvoiceSummary(_VendorInvoiceFields):
    """A vendor invoice in GET /api/reconciliation/invoices."""

    match: InvoiceMatchSummary | None


class VendorInvoice(_VendorInvoiceFields):
    """public.reconciliation_invoice: a vendor invoice with its match evidence."""

    normalized_invoice_number: str | None
    created_by: UUID | None
    vendor: VendorStatusRef | None
    purchase_order: PurchaseOrderRef | None
    match: InvoiceMatch | None
    lines: list[VendorInvoiceLineDetail]
    exceptions: list[ReconciliationException] = Field(description="open ones first")


class OutcomeTotal(Relayed):
    status: str
    currency: str
    count: int
    amount: DecimalText


class ExceptionReason(Relayed):
    type: str
    check: str
    count: int
    open: int
    invoices: int


class VendorVariances(Relayed):
    vendor_id: UUID
    name: str
    exceptions: int
    open: int
    invoices_with_variances: int
    price_variance_amount: DecimalText | None


class UnknownVendorName(Relayed):
    vendor_name: str
    invoices: int


class ReconciliationDashboard(Relayed):
    """public.reconciliation_dashboard."""

    date_from: date | None
    date_to: date | None
    invoices: int
    by_outcome: list[OutcomeTotal]
    open_exceptions: int
    exceptions_by_status: dict[str, int]
    open_by_severity: dict[str, int]
    top_exception_reasons: list[ExceptionReason]
    vendors_with_most_variances: list[VendorVariances]
    unknown_vendor_names: list[UnknownVendorName]


class SkippedInvoice(Relayed):
    id: UUID
    reason: str


class MatchSummary(Relayed):
    """The counts of a matching by outcome (public.match_vendor_invoices, summed over the
    calls of a sweep); empty when matching is not deployed."""

    invoices: int = 0
    matched: int = 0
    matched_with_tolerance: int = 0
    exception: int = 0
    skipped: list[SkippedInvoice] = Field(
        default_factory=list,
        description="ids approved or rejected by a person, or not the organization's",
    )
    calls: int = Field(default=0, description="a sweep (no ids given): how many calls it took")
    incomplete: bool = Field(
        default=False, description="a sweep: true when it stopped for time; call again"
    )


# Purchase orders: typed from PostgREST selects (functions/reconciliation/purchase_orders_*)


class VendorRef(Output):
    id: UUID
    name: str


class PurchaseOrderSummary(Output):
    id: UUID
    organization_id: UUID
    vendor_id: UUID
    vendor: VendorRef | None = None
    po_number: str
    order_date: date
    currency: str
    status: str
    notes: str | None = None
    import_batch_id: UUID | None = None
    created_by: UUID | None = None
    created_at: datetime
    updated_at: datetime


class PurchaseOrderLine(BaseModel):
    id: UUID
    line_number: int
    item_code: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    quantity_received: Decimal = Field(description="the sum over the PO's goods receipts")


class Receipt(BaseModel):
    id: UUID
    receipt_number: str
    received_date: date
    import_batch_id: UUID | None
    created_at: datetime


class PurchaseOrder(PurchaseOrderSummary):
    lines: list[PurchaseOrderLine]
    receipts: list[Receipt]


MAX_MODE_LINES = 1000


class LineMatchModeChange(Input):
    line_number: int = Field(ge=1, le=2_147_483_647, description="the PO line's number")
    match_mode: MatchMode | None = Field(description=MATCH_MODE_HELP)


class PurchaseOrderMatchModeUpdate(Input):
    """The PO's mode and/or its lines' (the fields given)."""

    match_mode: MatchMode | None = Field(default=None, description=MATCH_MODE_HELP)
    lines: list[LineMatchModeChange] | None = Field(
        default=None, min_length=1, max_length=MAX_MODE_LINES
    )

    @model_validator(mode="after")
    def _something(self) -> PurchaseOrderMatchModeUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give match_mode, lines, or both")
        if "lines" in self.model_fields_set and self.lines is None:
            raise PydanticCustomError("null_lines", "lines must be a list when given")
        numbers = [line.line_number for line in self.lines or []]
        if len(numbers) != len(set(numbers)):
            raise PydanticCustomError("duplicate_line", "each line_number at most once")
        return self

    def changes(self) -> dict[str, Any]:
        return self.to_json(exclude_unset=True)


class LineMatchMode(Relayed):
    id: UUID
    line_number: int
    item_code: str | None
    description: str
    match_mode: str | None = Field(description="set on the line; null: inherited")
    effective_match_mode: str = Field(description="the mode the line is matched in")
    decided_by: Literal["line", "purchase_order", "vendor", "organization"]


class PurchaseOrderMatchModes(Relayed):
    """public.purchase_order_match_modes: each level's setting and each line's effective mode."""

    purchase_order_id: UUID
    po_number: str
    vendor_id: UUID
    match_mode: str | None = Field(description="set on the PO; null: inherited")
    vendor_match_mode: str | None
    default_match_mode: str
    effective_match_mode: str = Field(description="the mode of a line without its own")
    lines: list[LineMatchMode]


class SuggestionEvidence(Relayed):
    """Why a purchase order is suggested: each feature's value in [0, 1], its weight, and
    its contribution (weight x value) to the score (bias + the contributions)."""

    features: dict[str, float] = Field(
        description="vendor, amount, date, reference, description (0-1)"
    )
    weights: dict[str, float]
    contributions: dict[str, float]
    bias: float


class SuggestionCandidate(Relayed):
    rank: int
    purchase_order_id: UUID
    po_number: str
    vendor_id: UUID
    vendor_name: str | None
    order_date: date
    currency: str
    po_total: DecimalText
    score: float = Field(description="the model's probability that this is the invoice's PO")
    logit: float = Field(description="bias + the contributions")
    current: bool = Field(description="the invoice's purchase order now")
    evidence: SuggestionEvidence


class SuggestionModel(Relayed):
    learned: bool = Field(description="false: the fixed weights (no decision learned yet)")
    weights: dict[str, float]
    examples: int
    decisions: int
    trained_at: datetime | None = None


class MatchSuggestions(Relayed):
    vendor_invoice_id: UUID
    invoice_number: str
    vendor_id: UUID | None
    vendor_name: str
    po_number: str | None
    purchase_order_id: UUID | None
    status: str
    model: SuggestionModel
    candidates: list[SuggestionCandidate] = Field(description="best first")


class SuggestionDecision(Input):
    reason: Reason | None = Field(default=None, description="why (1-1000 characters)")


class SuggestionDecided(Relayed):
    decision: Literal["accepted", "rejected"]
    vendor_invoice_id: UUID
    suggested_purchase_order_id: UUID = Field(description="the PO accepted or rejected")
    purchase_order_id: UUID | None = Field(description="the invoice's purchase order now")
    status: str = Field(description="the invoice's status now (re-matched after an accept)")
    exception_id: UUID | None = Field(
        default=None, description="the exception resolved by the link, if any"
    )
    model: SuggestionModel = Field(description="the weights retrained with this decision")
