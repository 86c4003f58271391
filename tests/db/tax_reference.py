"""A Decimal reference model of the EN 16931 totals as docs/einvoicing.md ("Tax model")
writes them, independent of the SQL: the property tests hold the database to it.

    line amount   = round_half_up(quantity x rate)                at the minor unit
    groups        = lines by effective (category, rate)
    allowance     = the discount split over the groups in proportion to their net:
                    groups by net ascending (ties: the later category/rate first),
                    each round(discount x running net / subtotal) minus what the
                    groups before it took (the largest, last, takes the remainder)
    group tax     = round_half_up((net - allowance) x rate / 100)
    tax           = sum of the groups' tax; total = subtotal - discount + tax
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO_RATED = ("Z", "E", "AE", "K", "G", "O")
RATED = ("S", "L", "M")
MINOR_UNITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}


def minor_unit(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def effective_rate(category: str | None, rate: Decimal | None, document_rate: Decimal) -> Decimal:
    if rate is not None:
        return rate
    if category in ZERO_RATED:
        return Decimal(0)
    return document_rate


def effective_category(
    category: str | None, rate: Decimal | None, document_rate: Decimal, default: str | None
) -> str:
    if category is not None:
        return category
    if (rate if rate is not None else document_rate) > 0:
        return default if default in RATED else "S"
    return default if default in ZERO_RATED else "Z"


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    rate: Decimal
    vat_category: str | None = None
    tax_rate: Decimal | None = None


@dataclass(frozen=True)
class Group:
    vat_category: str
    tax_rate: Decimal
    line_net_total: Decimal
    allowance_amount: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    breakdown: list[Group]


def totals(
    lines: list[Line],
    *,
    currency: str,
    document_rate: Decimal,
    discount: Decimal = Decimal(0),
    default_category: str | None = None,
) -> Totals:
    nets: dict[tuple[str, Decimal], Decimal] = {}
    subtotal = Decimal(0)
    for line in lines:
        amount = round_money(line.quantity * line.rate, currency)
        subtotal += amount
        rate = effective_rate(line.vat_category, line.tax_rate, document_rate)
        category = effective_category(
            line.vat_category, line.tax_rate, document_rate, default_category
        )
        key = (category, rate.normalize())
        nets[key] = nets.get(key, Decimal(0)) + amount
    # Ascending net; among equal nets the later (category, rate) first, so the
    # earliest of the largest comes last.
    order = sorted(nets, key=lambda k: (nets[k], _desc(k[0]), -k[1]))
    allowances: dict[tuple[str, Decimal], Decimal] = {}
    running = Decimal(0)
    for key in order:
        before = running
        running += nets[key]
        if discount == 0 or subtotal == 0:
            allowances[key] = Decimal(0)
        else:
            allowances[key] = round_money(discount * running / subtotal, currency) - round_money(
                discount * before / subtotal, currency
            )
    breakdown = []
    for key in sorted(nets):
        taxable = nets[key] - allowances[key]
        breakdown.append(
            Group(
                vat_category=key[0],
                tax_rate=key[1],
                line_net_total=nets[key],
                allowance_amount=allowances[key],
                taxable_amount=taxable,
                tax_amount=round_money(taxable * key[1] / 100, currency),
            )
        )
    tax = sum((g.tax_amount for g in breakdown), Decimal(0))
    return Totals(subtotal, tax, subtotal - discount + tax, breakdown)


def _desc(text: str) -> tuple[int, ...]:
    """A key that sorts texts in descending order (as SQL's ``cat desc``)."""
    return (*(-ord(c) for c in text), 0)
