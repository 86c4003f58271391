"""A table to export: typed columns and rows that arrive as an iterator.

A column's kind says what its values are: ``date``/``datetime`` for dates, ``money`` (in
the currency named by the row's ``currency`` column), ``int`` for counts, ``decimal`` for
percentages and day averages, ``bool`` and ``text``. A value is that Python type
(``date``, ``Decimal``, ...) or its canonical text as PostgreSQL writes it (``2025-01-15``,
``1200.50``): the invoice export passes the database's strings through, so the CSV writer
copies them as they are and only XLSX and PDF pay for parsing them. Each writer renders
values its own way (CSV text, typed XLSX cells, PDF text).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from shared import formatting

Kind = Literal["text", "date", "datetime", "money", "int", "decimal", "bool"]
Value = str | int | Decimal | date | datetime | bool | None
Row = tuple[Value, ...]


def minor_unit(currency: str | None) -> int:
    """Decimals of ``currency``'s minor unit (2 when unknown or absent): the number format
    of money cells (JPY 0 decimals, KWD 3), as `shared.formatting` prints amounts."""
    return formatting.minor_unit(currency or "")


@dataclass(frozen=True)
class Column:
    key: str  # the header of CSV and XLSX
    title: str  # the header of the PDF table
    kind: Kind = "text"
    width: float = 14  # XLSX column width (characters); PDF widths are proportional to it
    in_pdf: bool = True


@dataclass(frozen=True)
class Point:
    """One period of a series (the revenue report's chart)."""

    label: str
    currency: str
    billed: Decimal
    collected: Decimal


@dataclass
class Table:
    """A report as rows: what every writer takes."""

    name: str  # the report's name (``revenue``), used in the file name
    title: str  # a heading for people ("Revenue by month")
    subtitle: str  # the range and filters it covers
    columns: Sequence[Column]
    rows: Iterator[Row]
    total: int | None = None  # the number of rows when known before reading them
    series: list[Point] = field(default_factory=list)
    date_from: date | None = None  # the range the report covers (its defaults applied)
    date_to: date | None = None
    rows_written: int = 0

    @property
    def currency_index(self) -> int | None:
        """Where the row's currency is (money cells are in it)."""
        for index, column in enumerate(self.columns):
            if column.key == "currency":
                return index
        return None

    def counted(self) -> Iterator[Row]:
        """The rows, counting them as they pass."""
        for row in self.rows:
            self.rows_written += 1
            yield row
