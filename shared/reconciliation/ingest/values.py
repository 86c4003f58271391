"""One field's value as a file or a body gives it, read into what the import RPC takes:
numbers as ``Decimal`` (never a float) with thousands separators and either decimal
mark (``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56``, ``1234,5``), dates in the
forms files use (ISO, ``31.12.2026``, ``31 Dec 2026``, ``Dec 31, 2026``, ``31/12/2026``
or ``12/31/2026`` by the file's date order), ISO 4217 currencies; a value that cannot be
used is a `FieldError` with a message for a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.reconciliation.ingest.columns import Column, DateOrder

# ISO 4217 active codes (and the precious metals and special codes left out).
_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK "
    "JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA "
    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK "
    "PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP "
    "STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV "
    "WST XAF XCD XOF XPF YER ZAR ZMW ZWL"
)
CURRENCIES = frozenset(_CODES.split())


class FieldError(ValueError):
    """A value that cannot be used; the message is for a person."""


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
CURRENCY_SYMBOLS = "$€£¥₹₩₺₽"
_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_GROUPED_TAIL = re.compile(r"\d{3}")


def parse_number(text: str, decimal_mark: str = ".") -> Decimal:  # noqa: PLR0912 (one grammar)
    """A number as written by people and spreadsheets (see the module's doc)."""
    raw = _SPACES.sub(" ", text).strip().strip(CURRENCY_SYMBOLS).strip()
    negative = raw.startswith("-") or raw.endswith("-") or (raw[:1], raw[-1:]) == ("(", ")")
    if negative:
        raise FieldError(f"{text.strip()!r} is negative; amounts and quantities must be 0 or more")
    raw = raw.removeprefix("+").strip()
    if not raw or not all(ch.isdigit() or ch in ".,' " for ch in raw) or not raw[0].isdigit():
        raise FieldError(f"{text.strip()!r} is not a number")
    if " " in raw or "'" in raw:
        groups = re.split(r"[ ']", raw)
        if not all(_GROUPED_TAIL.fullmatch(g) for g in groups[1:-1]) or not re.fullmatch(
            r"\d{3}(?:[.,]\d+)?", groups[-1]
        ):
            raise FieldError(f"{text.strip()!r} is not a number (digit groups of three?)")
        raw = "".join(groups)
    dots, commas = raw.count("."), raw.count(",")
    if dots and commas:
        mark = "." if raw.rfind(".") > raw.rfind(",") else ","
    elif dots + commas == 0:
        mark = ""
    else:
        sep = "." if dots else ","
        tail = raw.rsplit(sep, 1)[1]
        if dots + commas > 1:
            mark = ""  # 1.234.567: only grouping
        elif len(tail) != 3:
            mark = sep
        else:
            mark = sep if sep == decimal_mark else ""
    if mark:
        whole, _, fraction = raw.rpartition(mark)
        group = "," if mark == "." else "."
    else:
        whole, fraction, group = raw, "", "." if dots else ","
    if group in whole:
        parts = whole.split(group)
        if not (1 <= len(parts[0]) <= 3) or not all(len(p) == 3 for p in parts[1:]):
            raise FieldError(f"{text.strip()!r} is not a number (misplaced thousands separator)")
        whole = "".join(parts)
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise FieldError(f"{text.strip()!r} is not a number")
    try:
        return Decimal(whole + ("." + fraction if fraction else ""))
    except InvalidOperation:
        raise FieldError(f"{text.strip()!r} is not a number") from None


def _json_number(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise FieldError("must be a number or a decimal string")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest text that round-trips
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and _PLAIN.fullmatch(text[1:]):
            raise FieldError(f"{text} is negative; it must be 0 or more")
        if not _PLAIN.fullmatch(text):
            raise FieldError(f"{value!r} is not a decimal number like 1234.56")
        number = Decimal(text)
    else:
        raise FieldError("must be a number or a decimal string")
    if not number.is_finite():
        raise FieldError("must be a finite number")
    if number < 0:
        raise FieldError(f"{value} is negative; it must be 0 or more")
    return number


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_TIME = re.compile(r"[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_SLASHED = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})")
_NAMED_MONTH_FIRST = re.compile(r"([A-Za-z]{3,9})\.?[ -](\d{1,2})(?:st|nd|rd|th)?,?[ -](\d{4})")
_NAMED_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[ -]([A-Za-z]{3,9})\.?,?[ -](\d{4})")


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _make_date(year: int, month: int, day: int, text: str, how: str = "") -> date:
    try:
        value = date(year, month, day)
    except ValueError:
        raise FieldError(f"{text!r} is not a valid date{how}") from None
    if not 1900 <= value.year <= 2999:
        raise FieldError(f"{text!r} is out of range (years 1900 to 2999)")
    return value


def slashed_parts(text: str) -> tuple[int, int] | None:
    """The two leading numbers of a ``a/b/yyyy`` date (evidence for the date order)."""
    match = _SLASHED.fullmatch(_TIME.sub("", text.strip()))
    return (int(match.group(1)), int(match.group(3))) if match else None


def parse_date(text: str, order: DateOrder = "dmy", evidence: str = "") -> date:
    """A date in one of the accepted formats; ``order`` reads ``a/b/yyyy``."""
    raw = _TIME.sub("", text.strip())
    if match := _ISO.fullmatch(raw):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _SLASHED.fullmatch(raw):
        a, b, year = int(match[1]), int(match[3]), _year(match[4])
        day, month = (a, b) if order == "dmy" else (b, a)
        how = " read as day/month/year" if order == "dmy" else " read as month/day/year"
        return _make_date(year, month, day, text, how + evidence)
    if match := _DOTTED.fullmatch(raw):
        return _make_date(_year(match[3]), int(match[2]), int(match[1]), text)
    if match := _NAMED_MONTH_FIRST.fullmatch(raw):
        named = _MONTHS.get(match[1].casefold())
        if named:
            return _make_date(int(match[3]), named, int(match[2]), text)
    if match := _NAMED_DAY_FIRST.fullmatch(raw):
        named = _MONTHS.get(match[2].casefold())
        if named:
            return _make_date(int(match[3]), named, int(match[1]), text)
    raise FieldError(
        f"{text.strip()!r} is not a date in a known format "
        "(2026-12-31, 31/12/2026, 12/31/2026, 31.12.2026, Dec 31, 2026)"
    )


@dataclass
class Reading:
    """How a file's (or a body's) values are read."""

    decimal_mark: str = "."
    date_order: DateOrder = "dmy"
    strict: bool = False  # JSON: ISO dates and plain decimal numbers only
    evidence: str = ""  # why the date order was chosen, for error messages


def decimal_places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def convert(column: Column, value: Any, reading: Reading) -> Any:  # noqa: PLR0911, PLR0912, PLR0915 (one case per type)
    """The JSON-ready value of one field (``None`` when blank); raises FieldError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column.type == "text":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise FieldError("must be text")
        text = (
            _SPACES.sub(" ", str(value)).strip() if column.name != "notes" else str(value).strip()
        )
        if column.max_length and len(text) > column.max_length:
            raise FieldError(f"is {len(text)} characters long; at most {column.max_length}")
        return text
    if column.type == "currency":
        if not isinstance(value, str):
            raise FieldError("must be a three-letter currency code like USD")
        code = value.strip().upper()
        if code not in CURRENCIES:
            raise FieldError(f"{value.strip()!r} is not an ISO 4217 currency code (USD, EUR, ...)")
        return code
    if column.type == "status":
        if not isinstance(value, str) or value.strip().casefold() not in (
            "open",
            "closed",
            "cancelled",
            "canceled",
        ):
            raise FieldError(f"{value!r} is not a status; use open, closed or cancelled")
        status = value.strip().casefold()
        return "cancelled" if status == "canceled" else status
    if column.type == "match_mode":
        mode = str(value).strip().casefold().replace("-", "_").replace(" ", "_")
        mode = {"2_way": "two_way", "3_way": "three_way", "2": "two_way", "3": "three_way"}.get(
            mode, mode
        )
        if isinstance(value, bool) or mode not in ("two_way", "three_way"):
            raise FieldError(f"{value!r} is not a match mode; use two_way or three_way")
        return mode
    if column.type == "date":
        if reading.strict:
            if not isinstance(value, str):
                raise FieldError("must be a date, YYYY-MM-DD")
            match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value.strip())
            if not match:
                raise FieldError(f"{value!r} is not a date in the form YYYY-MM-DD")
            return _make_date(int(match[1]), int(match[2]), int(match[3]), value).isoformat()
        if not isinstance(value, str):
            raise FieldError("must be a date")
        return parse_date(value, reading.date_order, reading.evidence).isoformat()
    if column.type == "int":
        if isinstance(value, bool):
            raise FieldError("must be a whole number")
        text = str(value).strip()
        if not text.isdigit():
            raise FieldError(f"{text!r} is not a whole number")
        whole = int(text)
        if not 1 <= whole <= 100_000:
            raise FieldError(f"{whole} is out of range (1 to 100000)")
        return whole
    # money, quantity, price
    if reading.strict:
        number = _json_number(value)
    elif isinstance(value, str):
        number = parse_number(value, reading.decimal_mark)
    else:
        raise FieldError("must be a number")
    if column.type == "quantity":
        if number <= 0:
            raise FieldError("must be more than 0")
        if number >= 10**9:
            raise FieldError(f"{number} is too large (less than 1,000,000,000)")
        if decimal_places(number) > 4:
            raise FieldError(f"{number} has more than 4 decimals")
    else:
        if number >= 10**12:
            raise FieldError(f"{number} is too large (less than 1,000,000,000,000)")
        if decimal_places(number) > 4:
            raise FieldError(f"{number} has more than 4 decimals")
    return format(number, "f")
