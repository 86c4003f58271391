"""IBAN and BIC checks with python-stdnum (ISO 13616 mod-97 checksum and each country's
length and format; ISO 9362 shape), answered as 422 naming the field.

Cold start: python-stdnum is imported by the first check, not with this module: two of
the payables function's 22 routes and the bank file check IBANs or BICs."""

from __future__ import annotations

from typing import Literal

from shared.errors import validation


def _check(kind: Literal["IBAN", "BIC"], value: str) -> tuple[str, str | None]:
    """``value`` by python-stdnum's check of ``kind``: (it compact and upper case, None),
    or (``value``, what is wrong with it)."""
    from stdnum import bic, iban  # noqa: PLC0415
    from stdnum.exceptions import ValidationError  # noqa: PLC0415

    try:
        return str((iban if kind == "IBAN" else bic).validate(value)), None
    except ValidationError as error:
        return value, str(error)


def clean_iban(value: str, field: str, where: str = "body") -> str:
    """The IBAN compact and upper case, or 422 naming ``field``."""
    clean, problem = _check("IBAN", value)
    if problem is not None:
        raise validation(field, f"not a valid IBAN ({problem})", where)
    return clean


def clean_bic(value: str, field: str, where: str = "body") -> str:
    """The BIC compact and upper case, or 422 naming ``field``."""
    clean, problem = _check("BIC", value)
    if problem is not None:
        raise validation(field, f"not a valid BIC ({problem})", where)
    return clean


def iban_problem(value: str | None) -> str | None:
    """Why a stored IBAN cannot be paid to (None: it can)."""
    if not value:
        return "no IBAN"
    problem = _check("IBAN", value)[1]
    return None if problem is None else f"IBAN invalid ({problem})"


def bic_problem(value: str | None) -> str | None:
    if value is None:
        return None
    problem = _check("BIC", value)[1]
    return None if problem is None else f"BIC invalid ({problem})"
