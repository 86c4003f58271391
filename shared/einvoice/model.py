"""The exchange model of an e-invoice: EN 16931's semantic model as frozen dataclasses.

Writers (``ubl.py``, ``cii.py``, ``facturx.py``) take an :class:`Invoice`; the reader
(``read.py``) returns one. Names follow the standard's business terms (BT-n) and groups
(BG-n), named in each field's comment. Money is ``Decimal``; dates are ``datetime.date``;
codes are the code lists' own strings (UNCL1001 document types, UNCL5305 VAT categories,
UNCL4461 payment means, ISO 4217 currencies, ISO 3166-1 alpha-2 countries, UN/ECE Rec 20
units).

The arithmetic the standard requires (BR-CO-10..BR-CO-17, BR-S-08 and its siblings) is
here too, so that every producer of an ``Invoice`` computes it one way:
:func:`tax_breakdown` groups the lines, allowances and charges by VAT category and rate
and rounds each group's tax at the currency's minor unit; :func:`document_totals` adds
them up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

# UNCL1001 document type codes we write.
COMMERCIAL_INVOICE = "380"
CREDIT_NOTE = "381"
CORRECTED_INVOICE = "384"

# UNCL5305 VAT category codes of EN 16931.
VAT_CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O", "L", "M")
# Categories whose rate is 0 by rule (BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05, BR-G-05; O has
# no rate at all, BR-O-05) and those that need an exemption reason (BR-E-10 ...).
ZERO_RATED = frozenset({"Z", "E", "AE", "K", "G", "O"})
EXEMPTION_REQUIRED = frozenset({"E", "AE", "K", "G", "O"})

# Currencies whose minor unit is not 2 (ISO 4217); every other one has 2.
_MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip


def minor_unit(currency: str) -> int:
    """The number of decimals of ``currency`` (ISO 4217)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def money(value: Decimal, currency: str) -> Decimal:
    """``value`` rounded half up at the minor unit of ``currency``."""
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Address:
    """BG-5 / BG-8: a postal address."""

    line1: str | None = None  # BT-35 / BT-50
    line2: str | None = None  # BT-36 / BT-51
    city: str | None = None  # BT-37 / BT-52
    postal_code: str | None = None  # BT-38 / BT-53
    subdivision: str | None = None  # BT-39 / BT-54
    country_code: str | None = None  # BT-40 / BT-55, ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Party:
    """BG-4 seller / BG-7 buyer, with BG-6 / BG-9 contact."""

    name: str  # BT-27 / BT-44
    address: Address = field(default_factory=Address)
    vat_id: str | None = None  # BT-31 / BT-48, with its country prefix
    legal_registration_id: str | None = None  # BT-30 / BT-47
    tax_registration_id: str | None = None  # BT-32 (seller's local tax number)
    trading_name: str | None = None  # BT-28 / BT-45
    electronic_address: str | None = None  # BT-34 / BT-49
    electronic_address_scheme: str | None = None  # its scheme (EAS code: 0088, 9930, EM ...)
    contact_name: str | None = None  # BT-41 / BT-56
    phone: str | None = None  # BT-42 / BT-57
    email: str | None = None  # BT-43 / BT-58


@dataclass(frozen=True)
class PaymentMeans:
    """BG-16: how to pay, with BG-17 credit transfer."""

    code: str = "58"  # BT-81, UNCL4461 (58 SEPA credit transfer, 30 credit transfer ...)
    iban: str | None = None  # BT-84
    bic: str | None = None  # BT-86
    account_name: str | None = None  # BT-85
    remittance_information: str | None = None  # BT-83
    terms: str | None = None  # BT-20 payment terms text


@dataclass(frozen=True)
class Line:
    """BG-25: an invoice line."""

    id: str  # BT-126
    name: str  # BT-153
    quantity: Decimal  # BT-129
    net_price: Decimal  # BT-146
    net_amount: Decimal  # BT-131 = quantity x price, rounded at the minor unit
    vat_category: str  # BT-151
    vat_rate: Decimal  # BT-152 (percent; 0 for the zero-rated categories)
    unit_code: str = "C62"  # BT-130, UN/ECE Rec 20 ("C62": one, a unit)
    description: str | None = None  # BT-154
    note: str | None = None  # BT-127


@dataclass(frozen=True)
class AllowanceCharge:
    """BG-20 document-level allowance / BG-21 charge."""

    amount: Decimal  # BT-92 / BT-99
    vat_category: str  # BT-95 / BT-102
    vat_rate: Decimal  # BT-96 / BT-103
    reason: str | None = None  # BT-97 / BT-104
    reason_code: str | None = None  # BT-98 / BT-105 (UNCL5189 / UNCL7161)
    base_amount: Decimal | None = None  # BT-93 / BT-100
    percentage: Decimal | None = None  # BT-94 / BT-101


@dataclass(frozen=True)
class TaxSubtotal:
    """BG-23: the VAT breakdown of one category and rate."""

    vat_category: str  # BT-118
    vat_rate: Decimal  # BT-119
    taxable_amount: Decimal  # BT-116
    tax_amount: Decimal  # BT-117
    exemption_reason_code: str | None = None  # BT-121 (VATEX)
    exemption_reason: str | None = None  # BT-120


@dataclass(frozen=True)
class Totals:
    """BG-22: the document totals."""

    line_net_total: Decimal  # BT-106
    allowance_total: Decimal  # BT-107
    charge_total: Decimal  # BT-108
    tax_exclusive: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    prepaid: Decimal  # BT-113
    payable: Decimal  # BT-115
    rounding: Decimal = Decimal("0")  # BT-114


@dataclass(frozen=True)
class Invoice:
    """BG-0: one invoice or credit note."""

    number: str  # BT-1
    type_code: str  # BT-3: 380, 381, 384
    issue_date: date  # BT-2
    currency: str  # BT-5
    seller: Party  # BG-4
    buyer: Party  # BG-7
    lines: tuple[Line, ...]  # BG-25
    tax_breakdown: tuple[TaxSubtotal, ...]  # BG-23
    totals: Totals  # BG-22
    due_date: date | None = None  # BT-9
    buyer_reference: str | None = None  # BT-10 (XRechnung: the Leitweg-ID)
    purchase_order_reference: str | None = None  # BT-13
    note: str | None = None  # BT-22
    payment: PaymentMeans | None = None  # BG-16 (+ BT-20 terms)
    allowances: tuple[AllowanceCharge, ...] = ()  # BG-20
    charges: tuple[AllowanceCharge, ...] = ()  # BG-21
    preceding_invoice_reference: str | None = None  # BT-25 (credit notes)
    preceding_invoice_date: date | None = None  # BT-26
    delivery_date: date | None = None  # BT-72
    delivery_address: Address | None = None  # BG-15 (its country BT-80 required for K, BR-IC-12)
    specification_id: str | None = None  # BT-24, set by the writer's profile when None
    business_process: str | None = None  # BT-23

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == CREDIT_NOTE


# --- the arithmetic -------------------------------------------------------------------


def line_amount(quantity: Decimal, price: Decimal, currency: str) -> Decimal:
    """BT-131: quantity x net price at the currency's minor unit."""
    return money(quantity * price, currency)


def tax_breakdown(
    lines: Iterable[Line],
    allowances: Sequence[AllowanceCharge],
    charges: Sequence[AllowanceCharge],
    currency: str,
    reasons: dict[str, tuple[str | None, str | None]] | None = None,
) -> tuple[TaxSubtotal, ...]:
    """BG-23 from the lines and the document-level allowances and charges: one group per
    (category, rate), ordered by category and rate; the taxable amount is the group's line
    total less its allowances plus its charges (BR-S-08 and siblings) and the tax is
    rounded at the minor unit per group (BR-CO-17). ``reasons`` gives the exemption
    reason (code, text) per category; otherwise the first line's of the group counts."""
    groups: dict[tuple[str, Decimal], Decimal] = {}
    firsts: dict[str, tuple[str | None, str | None]] = dict(reasons or {})
    for line in lines:
        key = (line.vat_category, _rate(line.vat_category, line.vat_rate))
        groups[key] = groups.get(key, Decimal("0")) + line.net_amount
    for sign, entries in ((-1, allowances), (1, charges)):
        for entry in entries:
            key = (entry.vat_category, _rate(entry.vat_category, entry.vat_rate))
            groups[key] = groups.get(key, Decimal("0")) + sign * entry.amount
    result = []
    for category, rate in sorted(groups):
        taxable = money(groups[(category, rate)], currency)
        code, text = firsts.get(category, (None, None))
        result.append(
            TaxSubtotal(
                vat_category=category,
                vat_rate=rate,
                taxable_amount=taxable,
                tax_amount=money(taxable * rate / 100, currency),
                exemption_reason_code=code if category in EXEMPTION_REQUIRED else None,
                exemption_reason=text if category in EXEMPTION_REQUIRED else None,
            )
        )
    return tuple(result)


def document_totals(
    lines: Iterable[Line],
    allowances: Sequence[AllowanceCharge],
    charges: Sequence[AllowanceCharge],
    breakdown: Iterable[TaxSubtotal],
    currency: str,
    *,
    prepaid: Decimal = Decimal("0"),
) -> Totals:
    """BG-22 by BR-CO-10 .. BR-CO-16."""
    line_total = money(sum((line.net_amount for line in lines), Decimal("0")), currency)
    allowance_total = money(sum((a.amount for a in allowances), Decimal("0")), currency)
    charge_total = money(sum((c.amount for c in charges), Decimal("0")), currency)
    tax_exclusive = line_total - allowance_total + charge_total
    tax_total = money(sum((t.tax_amount for t in breakdown), Decimal("0")), currency)
    tax_inclusive = tax_exclusive + tax_total
    return Totals(
        line_net_total=line_total,
        allowance_total=allowance_total,
        charge_total=charge_total,
        tax_exclusive=tax_exclusive,
        tax_total=tax_total,
        tax_inclusive=tax_inclusive,
        prepaid=money(prepaid, currency),
        payable=tax_inclusive - money(prepaid, currency),
    )


def _rate(category: str, rate: Decimal) -> Decimal:
    return Decimal("0") if category in ZERO_RATED else rate
