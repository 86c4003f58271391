"""IBAN and BIC checks with python-stdnum (ISO 13616 mod-97 checksum and each country's
length and format; ISO 9362 shape), answered as 422 naming the field.

Cold start: python-stdnum is imported by the first check, not with this module: two of
the payables function's 22 routes and the bank file check IBANs or BICs."""

from __future__ import annotations

from shared.errors import validation

# ruff: noqa: PLC0415  (the imports inside the checks)


def clean_iban(value: str, field: str, where: str = "body") -> str:
    """The IBAN compact and upper case, or 422 naming ``field``."""
    from stdnum import iban as std_iban
    from stdnum.exceptions import ValidationError

    try:
        return str(std_iban.validate(value))
    except ValidationError as error:
        raise validation(field, f"not a valid IBAN ({error})", where) from None


def clean_bic(value: str, field: str, where: str = "body") -> str:
    """The BIC compact and upper case, or 422 naming ``field``."""
    from stdnum import bic as std_bic
    from stdnum.exceptions import ValidationError

    try:
        return str(std_bic.validate(value))
    except ValidationError as error:
        raise validation(field, f"not a valid BIC ({error})", where) from None


def iban_problem(value: str | None) -> str | None:
    """Why a stored IBAN cannot be paid to (None: it can)."""
    if not value:
        return "no IBAN"
    from stdnum import iban as std_iban
    from stdnum.exceptions import ValidationError

    try:
        std_iban.validate(value)
    except ValidationError as error:
        return f"IBAN invalid ({error})"
    return None


def bic_problem(value: str | None) -> str | None:
    if value is None:
        return None
    from stdnum import bic as std_bic
    from stdnum.exceptions import ValidationError

    try:
        std_bic.validate(value)
    except ValidationError as error:
        return f"BIC invalid ({error})"
    return None
