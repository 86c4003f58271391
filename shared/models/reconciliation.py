"""Request models of the reconciliation routes (docs/api.md, "Reconciliation: vendors,
matching and exceptions").

Answers are built by SQL functions (supabase/migrations/20261201100200_matching.sql)
as JSON with every amount, quantity and tolerance as a decimal string; the routes pass
them on. Bodies mirror the database's checks so bad input is refused with a field path;
references (a vendor, a purchase order of the body) are checked by the database, after
the path's id, so another organization's id is a 404 whatever the body says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.fields import blank_to_none
from shared.models import Input
from shared.models.clients import Address, Email, Notes, Phone

VENDOR_STATUSES: tuple[str, ...] = ("active", "inactive", "merged")
INVOICE_STATUSES: tuple[str, ...] = (
    "pending",
    "matched",
    "matched_with_tolerance",
    "exception",
    "approved",
    "rejected",
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

    @field_validator("*", mode="before")
    @classmethod
    def _required(cls, value: Any) -> Any:
        return _not_null(value)

    @model_validator(mode="after")
    def _something(self) -> SettingsUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one setting to change")
        return self
