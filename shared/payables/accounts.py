"""IBAN and BIC checks with python-stdnum (ISO 13616 mod-97 checksum and each country's
length and format; ISO 9362 shape), answered as 422 naming the field."""

from __future__ import annotations

from stdnum import bic as std_bic
from stdnum import iban as std_iban
from stdnum.exceptions import ValidationError

from shared.errors import validation


def clean_iban(value: str, field: str, where: str = "body") -> str:
    """The IBAN compact and upper case, or 422 naming ``field``."""
    try:
        return str(std_iban.validate(value))
    except ValidationError as error:
        raise validation(field, f"not a valid IBAN ({error})", where) from None


def clean_bic(value: str, field: str, where: str = "body") -> str:
    """The BIC compact and upper case, or 422 naming ``field``."""
    try:
        return str(std_bic.validate(value))
    except ValidationError as error:
        raise validation(field, f"not a valid BIC ({error})", where) from None


def iban_problem(value: str | None) -> str | None:
    """Why a stored IBAN cannot be paid to (None: it can)."""
    if not value:
        return "no IBAN"
    try:
        std_iban.validate(value)
    except ValidationError as error:
        return f"IBAN invalid ({error})"
    return None


def bic_problem(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        std_bic.validate(value)
    except ValidationError as error:
        return f"BIC invalid ({error})"
    return None
