"""shared.formatting: money at its currency's minor unit, never through a float."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from shared import formatting
from shared.formatting import format_amount, format_date, format_money

FOUNDATION = Path(__file__).parents[2] / "supabase/migrations/20261206100100_platform.sql"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("1234567.891"), "EUR", "€1,234,567.89"),
        (Decimal("0"), "GBP", "£0.00"),
        (0, "USD", "$0.00"),
        (Decimal("999.995"), "USD", "$1,000.00"),  # half-up, not banker's
        (Decimal("0.125"), "USD", "$0.13"),
        (Decimal("1234.5"), "JPY", "¥1,235"),
        (Decimal("1000000"), "JPY", "¥1,000,000"),
        (Decimal("1234.5"), "KWD", "KWD 1,234.500"),
        (Decimal("0.0005"), "BHD", "BHD 0.001"),
        (Decimal("1234.5"), "CHF", "CHF 1,234.50"),
        (Decimal("12"), "CAD", "CA$12.00"),
        (Decimal("-12"), "EUR", "-€12.00"),
        (Decimal("-1234.5"), "KWD", "-KWD 1,234.500"),
        (Decimal("-0.001"), "USD", "$0.00"),  # no "-0.00"
        (Decimal("12"), "usd", "$12.00"),
        (Decimal("1E+3"), "USD", "$1,000.00"),
        (Decimal("12345678901234.56"), "USD", "$12,345,678,901,234.56"),
    ],
)
def test_format_money(amount: Decimal, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


def test_format_amount_has_no_symbol() -> None:
    assert format_amount(Decimal("1234.5"), "USD") == "1,234.50"
    assert format_amount(Decimal("1234.5"), "JPY") == "1,235"
    assert format_amount(Decimal("1234.5"), "KWD") == "1,234.500"


def test_exact_keeps_extra_decimals() -> None:
    assert format_money(Decimal("0.125"), "USD", exact=True) == "$0.125"
    assert format_money(Decimal("1250.1000"), "USD", exact=True) == "$1,250.10"
    assert format_money(Decimal("3"), "JPY", exact=True) == "¥3"
    assert format_money(Decimal("3.5"), "JPY", exact=True) == "¥3.5"
    assert format_money(Decimal("0.125"), "USD") == "$0.13"


def test_float_is_refused() -> None:
    with pytest.raises(TypeError):
        format_money(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_money(True, "USD")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_is_refused(value: Decimal) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        format_money(value, "USD")


def test_large_decimal_keeps_every_digit() -> None:
    # 2**53 + 1 is not a float: a float on the way would lose the last digit.
    assert format_money(Decimal(2**53 + 1), "JPY") == "¥9,007,199,254,740,993"


def test_minor_units_match_sql_and_models() -> None:
    sql = FOUNDATION.read_text()
    zero = re.search(r"when currency in \(([^)]*)\) then 0", sql, re.S)
    three = re.search(r"when currency in \(([^)]*)\) then 3", sql, re.S)
    assert zero
    assert three
    assert frozenset(re.findall(r"'([A-Z]{3})'", zero.group(1))) == formatting.ZERO_DECIMALS
    assert frozenset(re.findall(r"'([A-Z]{3})'", three.group(1))) == formatting.THREE_DECIMALS
    assert [formatting.minor_unit(c) for c in ["USD", "JPY", "KWD", "BHD", "EUR", "XOF"]] == [
        2,
        0,
        3,
        3,
        2,
        0,
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 12, 1), "1 Dec 2026"),
        (date(2027, 1, 31), "31 Jan 2027"),
        (datetime(2026, 5, 9, 23, 59), "9 May 2026"),
        ("2026-02-28", "28 Feb 2026"),
        ("2026-02-28T10:00:00+00:00", "28 Feb 2026"),
    ],
)
def test_format_date(value: date | str, expected: str) -> None:
    assert format_date(value) == expected
