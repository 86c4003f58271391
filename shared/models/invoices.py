"""Models of the invoices routes (docs/api.md, "Invoices").

Requests are checked here before any database call: amounts are ``Decimal`` within the
database's bounds and scales, dates are sane (years 1900-2200, due date not before the
issue date), unknown fields are refused. What depends on stored data (the client's
currency and its minor unit, the discount against the subtotal, what may change after
sending) is the database's to refuse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.fields import blank_to_none
from shared.models import Input, Output, SealedInstructions
from shared.models.common import Day

InvoiceStatus = Literal["draft", "sent", "paid", "overdue", "cancelled"]
PaymentTerms = Literal[
    "due_on_receipt", "net7", "net15", "net30", "net45", "net60", "net90", "custom"
]
Template = Literal["professional", "modern", "minimal"]
ItemsMode = Literal["replace", "patch"]

STATUSES: tuple[str, ...] = ("draft", "sent", "paid", "overdue", "cancelled")
MAX_ITEMS = 200


def _scale(places: int) -> AfterValidator:
    """Drops trailing zeros past ``places`` (``1.50000`` -> ``1.5000``) so the database's
    scale checks see the number the caller meant; pydantic has already refused more
    significant decimals than ``places``."""
    quantum = Decimal(1).scaleb(-places)

    def fit(value: Decimal) -> Decimal:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            return value.quantize(quantum)
        return value

    return AfterValidator(fit)


Quantity = Annotated[Decimal, Field(gt=0, lt=Decimal("1e9"), decimal_places=4), _scale(4)]
Rate = Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), decimal_places=4), _scale(4)]
# The currency (the client's) decides the allowed decimals; KWD has the most: 3.
Discount = Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), decimal_places=3), _scale(3)]
TaxRate = Annotated[Decimal, Field(ge=0, le=100, decimal_places=3), _scale(3)]
Description = Annotated[str, Field(min_length=1, max_length=2000)]
InvoiceNumber = Annotated[str, Field(min_length=1, max_length=50)]
# notes, terms, payment instructions: blank (after trimming) is stored as null.
LongText = Annotated[str, Field(max_length=5000), AfterValidator(blank_to_none)]
Position = Annotated[int, Field(ge=0, le=100_000)]

# The tax model (docs/einvoicing.md, "Tax model"): UNCL5305 categories, VATEX reasons.
VatCategory = Literal["S", "Z", "E", "AE", "K", "G", "O", "L", "M"]
ZERO_RATED: tuple[str, ...] = ("Z", "E", "AE", "K", "G", "O")
RATED: tuple[str, ...] = ("S", "L", "M")
NEEDS_REASON: tuple[str, ...] = ("E", "AE", "K", "G", "O")
ExemptionCode = Annotated[
    str,
    Field(
        min_length=7,
        max_length=50,
        pattern=r"^VATEX-[A-Z0-9-]+$",
        description="A VATEX code (CEF list), e.g. VATEX-EU-AE, VATEX-EU-IC, VATEX-EU-G",
    ),
]
ExemptionReason = Annotated[str, Field(min_length=1, max_length=1000)]
Reference = Annotated[str, Field(min_length=1, max_length=200)]


def _rule(category: str, number: str) -> str:
    """EN 16931's identifier of a category's rule (K is IC, L is AF, M is AG)."""
    prefix = {"K": "IC", "L": "AF", "M": "AG"}.get(category, category)
    return f"BR-{prefix}-{number}"


def line_tax_problem(
    category: str | None,
    rate: Decimal | None,
    code: str | None,
    reason: str | None,
    *,
    complete: bool = True,
) -> tuple[str, str] | None:
    """The field and the rule a line's tax fields break, or None: the SQL's
    private.line_tax_problem. ``complete=False`` (a patch of a stored line) leaves out
    what needs the stored fields (a reason required)."""
    if category in ZERO_RATED and rate is not None and rate != 0:
        return "tax_rate", f"must be 0 for category {category} ({_rule(category, '05')})"
    if category in RATED and rate is not None and rate == 0:
        return "tax_rate", f"must be above 0 for category {category} ({_rule(category, '05')})"
    if complete and category in NEEDS_REASON and code is None and reason is None:
        return (
            "tax_exemption_reason",
            f"required for category {category} ({_rule(category, '10')})",
        )
    if category is not None and category not in NEEDS_REASON and (code or reason):
        field = "tax_exemption_reason_code" if code else "tax_exemption_reason"
        return field, f"not allowed for category {category} ({_rule(category, '10')})"
    return None


class LineTax(Input):
    """A line's tax fields (EN 16931): left out, the document's (its ``tax_rate``, and
    category S for a rate above 0, else its ``default_vat_category`` or Z)."""

    vat_category: VatCategory | None = Field(
        default=None,
        description=(
            "UNCL5305: S standard, Z zero rated, E exempt, AE reverse charge, K intra-community, "
            "G export, O outside the scope of VAT, L IGIC, M IPSI. Default: the document's"
        ),
    )
    tax_rate: TaxRate | None = Field(
        default=None,
        description="Percent; default: the document's tax_rate (0 for Z, E, AE, K, G, O)",
    )
    tax_exemption_reason_code: ExemptionCode | None = None
    tax_exemption_reason: ExemptionReason | None = Field(
        default=None,
        description="Required (or the code) for E, AE, K, G, O; refused for S, Z, L, M",
    )

    @model_validator(mode="after")
    def _tax_rules(self) -> LineTax:
        problem = line_tax_problem(
            self.vat_category,
            self.tax_rate,
            self.tax_exemption_reason_code,
            self.tax_exemption_reason,
            complete=self._complete_line(),
        )
        if problem is not None:
            field, message = problem
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("tax_rule", message),
                        loc=(field,),
                        input=getattr(self, field),
                    )
                ],
            )
        return self

    def _complete_line(self) -> bool:
        return True


def refuse_standard_lines_without_rate(
    items: list[Any], document_rate: Decimal | None, what: str
) -> None:
    """A line of S, L or M taking the document's rate needs one above 0 (BR-S-05)."""
    if document_rate is None or document_rate != 0:
        return
    for index, item in enumerate(items):
        category = getattr(item, "vat_category", None)
        if category in RATED and getattr(item, "tax_rate", None) is None:
            raise ValidationError.from_exception_data(
                what,
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "tax_rule",
                            "category {category} needs a rate above 0 ({rule}) and the "
                            "document's tax_rate is 0",
                            {"category": category, "rule": _rule(category, "05")},
                        ),
                        loc=("items", index, "tax_rate"),
                        input=None,
                    )
                ],
            )


def _due_not_before_issue(due: dt.date | None, info: ValidationInfo) -> dt.date | None:
    issued = info.data.get("issue_date")
    if due is not None and isinstance(issued, dt.date) and due < issued:
        raise ValueError(f"the due date must not be before the issue date ({issued})")
    return due


# =============================================================================
# Requests
# =============================================================================


class NewInvoiceItem(LineTax):
    """A line of a new invoice; its amount is the database's (quantity x rate, rounded)."""

    description: Description
    quantity: Quantity
    rate: Rate


class InvoiceCreate(Input):
    """POST /api/invoices. Left out: the number comes from the organization's counter,
    the issue date is today, the terms, tax rate, template, notes, terms and payment
    instructions are the organization's defaults, the due date follows the terms."""

    client_id: UUID
    invoice_number: InvoiceNumber | None = None
    issue_date: Day | None = None
    due_date: Day | None = None
    payment_terms: PaymentTerms | None = None
    status: Literal["draft", "sent"] = "draft"
    tax_rate: TaxRate | None = None
    discount: Discount = Decimal(0)
    notes: LongText | None = None
    terms: LongText | None = None
    payment_instructions: LongText | None = None
    template: Template | None = None
    default_vat_category: VatCategory | None = Field(
        default=None,
        description="The category of lines naming none (O: outside VAT): docs/einvoicing.md",
    )
    buyer_reference: Reference | None = Field(
        default=None, description="BT-10 (XRechnung's Leitweg-ID); default: the client's"
    )
    purchase_order_reference: Reference | None = Field(default=None, description="BT-13")
    items: list[NewInvoiceItem] = Field(min_length=1, max_length=MAX_ITEMS)

    _due = field_validator("due_date")(_due_not_before_issue)

    @model_validator(mode="after")
    def _custom_terms_need_a_date(self) -> InvoiceCreate:
        if self.payment_terms == "custom" and self.due_date is None:
            raise ValueError("custom payment terms need a due_date")
        refuse_standard_lines_without_rate(self.items, self.tax_rate, type(self).__name__)
        return self

    def invoice_json(self) -> dict[str, Any]:
        """The invoice's fields for ``create_invoice``: those given (so the database
        fills in the organization's defaults for the others)."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"items"})

    def items_json(self) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.items]


class InvoiceItemChange(LineTax):
    """An item in PUT /api/invoices/{id}.

    Without ``id``: a new item (description, quantity and rate required). With ``id``:
    that item, with the fields given changed. ``{"id": ..., "_delete": true}`` removes
    it (``items_mode: patch`` only)."""

    id: UUID | None = None
    description: Description | None = None
    quantity: Quantity | None = None
    rate: Rate | None = None
    position: Position | None = Field(
        default=None, description="patch mode: the item's place (replace mode: list order)"
    )
    delete: bool = Field(default=False, alias="_delete")

    def _complete_line(self) -> bool:
        # A change to a stored item: the database holds what it does not give.
        return self.id is None

    @field_validator("description", "quantity", "rate", "position", "delete", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    @model_validator(mode="after")
    def _complete(self) -> InvoiceItemChange:
        if self.delete:
            if self.id is None:
                raise ValueError("an item to delete needs its id")
            extra = sorted(self.model_fields_set - {"id", "delete"})
            if extra:
                raise ValueError(f"an item to delete takes only its id, not {', '.join(extra)}")
        elif self.id is None:
            missing = [f for f in ("description", "quantity", "rate") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a new item needs {', '.join(missing)}")
        return self

    def to_sql(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_unset=True, exclude={"delete"})
        if self.delete:
            data["_delete"] = True
        return data


_NOT_NULL = (
    "client_id",
    "invoice_number",
    "issue_date",
    "due_date",
    "payment_terms",
    "status",
    "tax_rate",
    "discount",
    "template",
    "items",
    "items_mode",
)


class InvoiceUpdate(Input):
    """PUT /api/invoices/{id}: the fields present change (``null`` clears notes, terms
    and payment_instructions). What may change depends on the status (docs/api.md)."""

    client_id: UUID | None = None
    invoice_number: InvoiceNumber | None = None
    issue_date: Day | None = None
    due_date: Day | None = None
    payment_terms: PaymentTerms | None = None
    status: InvoiceStatus | None = Field(
        default=None, description="draft -> sent marks it sent; cancelled cancels it"
    )
    tax_rate: TaxRate | None = None
    discount: Discount | None = None
    notes: LongText | None = None
    terms: LongText | None = None
    payment_instructions: LongText | None = None
    template: Template | None = None
    default_vat_category: VatCategory | None = None
    buyer_reference: Reference | None = None
    purchase_order_reference: Reference | None = None
    items_mode: ItemsMode = Field(
        default="replace",
        description="replace: `items` is the whole new list; patch: only the listed items change",
    )
    items: list[InvoiceItemChange] | None = Field(default=None, max_length=MAX_ITEMS)

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    _due = field_validator("due_date")(_due_not_before_issue)

    @field_validator("items")
    @classmethod
    def _items_fit_the_mode(
        cls, items: list[InvoiceItemChange] | None, info: ValidationInfo
    ) -> list[InvoiceItemChange] | None:
        if items is None:
            return None
        mode = info.data.get("items_mode", "replace")
        if mode == "replace":
            if not items:
                raise ValueError("an invoice needs at least one item")
            if any(item.delete for item in items):
                raise ValueError('"_delete" is for items_mode patch; in replace mode leave it out')
        ids = [item.id for item in items if item.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("an item is listed twice")
        return items

    def changes_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, exclude={"items", "items_mode"})

    def items_json(self) -> list[dict[str, Any]] | None:
        return None if self.items is None else [item.to_sql() for item in self.items]


# =============================================================================
# Responses
# =============================================================================


class InvoiceItem(Output):
    id: UUID
    position: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal = Field(description="quantity x rate, rounded half-up to the currency")
    vat_category: VatCategory = Field(description="Effective: the line's or the document's")
    tax_rate: Decimal = Field(description="Effective: the line's or the document's")
    tax_exemption_reason_code: str | None = None
    tax_exemption_reason: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class TaxBreakdownGroup(Output):
    """One VAT breakdown group (EN 16931 BG-23): the lines of one category and rate, their
    share of the discount, the taxable amount and its tax rounded at the currency."""

    vat_category: VatCategory
    tax_rate: Decimal
    line_net_total: Decimal
    allowance_amount: Decimal = Field(description="The group's share of the discount")
    taxable_amount: Decimal
    tax_amount: Decimal
    tax_exemption_reason_code: str | None = None
    tax_exemption_reason: str | None = None


class InvoicePayment(Output):
    id: UUID
    amount: Decimal
    currency: str
    payment_date: dt.date
    payment_method: str
    reference_number: str | None = None
    notes: str | None = None
    created_at: dt.datetime


class ClientRef(Output):
    id: UUID
    company_name: str


class InvoiceClient(ClientRef):
    contact_person: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    currency: str


class _InvoiceFields(Output):
    id: UUID
    client_id: UUID
    invoice_number: str
    issue_date: dt.date
    due_date: dt.date
    payment_terms: PaymentTerms
    status: InvoiceStatus
    currency: str
    subtotal: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    discount: Decimal
    total_amount: Decimal
    amount_paid: Decimal
    amount_credited: Decimal = Field(
        description="Credit notes and client credit applied (docs/api.md, credit notes)"
    )
    balance_due: Decimal = Field(description="total_amount - amount_paid - amount_credited")
    template: Template
    sent_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class InvoiceSummary(_InvoiceFields):
    """A row of GET /api/invoices: the invoice without items, with its client's name."""

    client: ClientRef

    @model_validator(mode="before")
    @classmethod
    def _client_from_row(cls, data: Any) -> Any:
        if isinstance(data, dict) and "client" not in data and "client_company_name" in data:
            data = {
                **data,
                "client": {
                    "id": data.get("client_id"),
                    "company_name": data["client_company_name"],
                },
            }
        return data


class Invoice(_InvoiceFields, SealedInstructions):
    """One invoice, whole: its items (in order), payments (oldest first) and client."""

    created_by: UUID | None = None
    quote_id: UUID | None = Field(default=None, description="The quote it was made from")
    recurring_profile_id: UUID | None = Field(
        default=None, description="The recurring profile that issued it"
    )
    recurring_period_start: dt.date | None = Field(
        default=None, description="The period it bills, for a recurring profile (its billing date)"
    )
    notes: str | None = None
    terms: str | None = None
    payment_instructions: str | None = None
    default_vat_category: VatCategory | None = None
    buyer_reference: str | None = None
    purchase_order_reference: str | None = None
    client: InvoiceClient
    items: list[InvoiceItem]
    tax_breakdown: list[TaxBreakdownGroup] = Field(
        description="By (vat_category, tax_rate); the groups' tax sums to tax_amount"
    )
    payments: list[InvoicePayment]
