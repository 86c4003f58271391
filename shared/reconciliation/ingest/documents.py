"""Rows in, documents out (`Assembler`): a document's rows agree on its fields, its
lines are numbered, and every rejected row says why (`RowError`); `Parsed` is what an
import stores. The CSV files and the JSON bodies are assembled alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.formatting import minor_unit
from shared.reconciliation.ingest.columns import A_WHAT, COLUMNS, WHAT, DateOrder, Kind, Policy
from shared.reconciliation.ingest.values import FieldError, Reading, convert, decimal_places

MAX_VALUE_CHARS = 500  # import_row_errors.value


@dataclass(frozen=True)
class RowError:
    """One reason a row was rejected: row 1 is the first data row after the header (0 is
    the header or the file itself; in JSON imports the document's index)."""

    row: int
    column: str | None
    value: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": None if self.value is None else self.value[:MAX_VALUE_CHARS],
            "message": self.message[:1000],
        }


@dataclass
class Parsed:
    """What an import stores: the documents (JSON for the RPC), the rejected rows' errors,
    and how the values were read."""

    kind: Kind
    documents: list[dict[str, Any]]
    errors: list[RowError]
    rows_total: int
    decimal_mark: str = "."
    date_order: DateOrder | None = None
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file's header

    @property
    def rejected_rows(self) -> set[int]:
        return {e.row for e in self.errors}


def _doc_key(kind: Kind, values: Mapping[str, Any]) -> tuple[str, ...] | None:
    def number(value: Any) -> str:
        return re.sub(r"[^0-9A-Za-z]+", "", str(value or "")).upper()

    key: tuple[str, ...]
    if kind == "vendor_invoices":
        vendor = str(values.get("vendor_name") or "").casefold()
        key = (vendor, number(values.get("invoice_number")))
    elif kind == "purchase_orders":
        key = (number(values.get("po_number")),)
    else:
        key = (number(values.get("receipt_number")),)
    return key if all(key) else None


def _describe(kind: Kind, values: Mapping[str, Any]) -> str:
    if kind == "vendor_invoices":
        return f"invoice {values.get('invoice_number')} of {values.get('vendor_name')}"
    if kind == "purchase_orders":
        return f"purchase order {values.get('po_number')}"
    return f"receipt {values.get('receipt_number')}"


@dataclass
class _Group:
    first_row: int
    label: str
    fields: dict[str, Any]
    field_rows: dict[str, int]
    rows: list[int] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    line_rows: dict[int, int] = field(default_factory=dict)
    bad_rows: list[int] = field(default_factory=list)


class Assembler:
    """Rows in, documents out: consistency of the document fields across its rows,
    line numbers, and every rejected row told why."""

    def __init__(self, kind: Kind, policy: Policy, label: Mapping[str, str]) -> None:
        self.kind = kind
        self.policy = policy
        self.label = label  # field -> how errors name the column
        self.columns = COLUMNS[kind]
        self.groups: dict[tuple[str, ...], _Group] = {}
        self.errors: list[RowError] = []
        self.rows_total = 0

    def col(self, name: str) -> str:
        return self.label.get(name, name)

    def add(self, row: int, raw: Mapping[str, Any], reading: Reading, at: str = "") -> None:
        """One row (CSV) or one line of a JSON document (``at`` prefixes its fields)."""
        values: dict[str, Any] = {}
        problems: list[RowError] = []
        for column in self.columns:
            given = raw.get(column.name)
            try:
                values[column.name] = convert(column, given, reading)
            except FieldError as error:
                where = (at if column.level == "line" else "") + self.col(column.name)
                problems.append(RowError(row, where, _text(given), f"{where}: {error}"))
                values[column.name] = None
        key = _doc_key(self.kind, values)
        group = self.groups.get(key) if key else None
        line: dict[str, Any] | None = None
        if key and group is None:
            group = _Group(row, _describe(self.kind, values), {}, {})
            self.groups[key] = group
        if group is not None:
            problems += self._doc_fields(row, group, values, raw, at)
            self._money_scale(
                row=row, group=group, values=values, raw=raw, problems=problems, at=at
            )
            line, line_problems = self._line(row, group, values, raw, at)
            problems += line_problems
        else:
            for column in self.columns:
                given_bad = any(p.column == self.col(column.name) for p in problems)
                if column.level == "doc" and column.required and values[column.name] is None:
                    problems += [] if given_bad else [self._missing(row, column.name)]
        if problems:
            self.errors += problems
            if group is not None:
                group.rows.append(row)
                group.bad_rows.append(row)
            return
        assert group is not None
        assert line is not None
        group.rows.append(row)
        group.lines.append(line)

    def _missing(self, row: int, name: str, hint: str = "") -> RowError:
        return RowError(row, self.col(name), None, f"{self.col(name)} is required{hint}")

    def _doc_fields(
        self, row: int, group: _Group, values: dict[str, Any], raw: Mapping[str, Any], at: str
    ) -> list[RowError]:
        problems = []
        for column in self.columns:
            if column.level != "doc":
                continue
            value = values[column.name]
            if value is None:
                if (
                    column.required
                    and column.name not in group.fields
                    and not _text(raw.get(column.name))
                ):
                    hint = "" if at else f" (on the first row of {group.label})"
                    problems.append(self._missing(row, column.name, hint))
                continue
            if column.name not in group.fields:
                group.fields[column.name] = value
                group.field_rows[column.name] = row
            elif _same(column.name, group.fields[column.name], value, self.kind):
                continue
            else:
                name = self.col(column.name)
                problems.append(
                    RowError(
                        row,
                        name,
                        _text(raw.get(column.name)),
                        f"{name} is {value} here but {group.fields[column.name]} on row "
                        f"{group.field_rows[column.name]} of {group.label}: the rows of one "
                        f"{WHAT[self.kind]} must agree",
                    )
                )
        return problems

    def _money_scale(
        self,
        *,
        row: int,
        group: _Group,
        values: dict[str, Any],
        raw: Mapping[str, Any],
        problems: list[RowError],
        at: str,
    ) -> None:
        currency = group.fields.get("currency") or values.get("currency")
        if not currency:
            return
        for column in self.columns:
            if column.type != "money" or values[column.name] is None:
                continue
            if decimal_places(Decimal(values[column.name])) > minor_unit(currency):
                where = (at if column.level == "line" else "") + self.col(column.name)
                problems.append(
                    RowError(
                        row,
                        where,
                        _text(raw.get(column.name)),
                        f"{where}: {values[column.name]} has more decimals than {currency} "
                        f"allows ({minor_unit(currency)})",
                    )
                )

    def _line(
        self,
        row: int,
        group: _Group,
        values: dict[str, Any],
        raw: Mapping[str, Any],
        at: str,
    ) -> tuple[dict[str, Any] | None, list[RowError]]:
        problems: list[RowError] = []
        line: dict[str, Any] = {"row": row, "at": at}
        for column in self.columns:
            if column.level == "line":
                line[column.name] = values[column.name]
                if (
                    column.required
                    and values[column.name] is None
                    and not _text(raw.get(column.name))
                ):
                    problems.append(
                        RowError(
                            row,
                            at + self.col(column.name),
                            None,
                            f"{at}{self.col(column.name)} is required",
                        )
                    )
        if self.kind == "goods_receipts":
            if (
                line["po_line"] is None
                and line["item_code"] is None
                and not _text(raw.get("po_line"))
            ):
                problems.append(
                    RowError(
                        row,
                        at + self.col("po_line"),
                        None,
                        f"name the purchase order line: {self.col('po_line')} (its line number) "
                        f"or {self.col('item_code')}",
                    )
                )
        else:
            if line["description"] is None:
                line["description"] = line["item_code"]
                if line["description"] is None and not _text(raw.get("description")):
                    problems.append(
                        RowError(
                            row,
                            at + self.col("description"),
                            None,
                            f"{at}{self.col('description')} is required (or an item code)",
                        )
                    )
            number = line["line_number"]
            if number is None and not _text(raw.get("line_number")):
                number = max(group.line_rows, default=0) + 1
                line["line_number"] = number
            if number is not None:
                if number in group.line_rows:
                    problems.append(
                        RowError(
                            row,
                            at + self.col("line_number"),
                            str(number),
                            f"line {number} appears twice in {group.label} (rows "
                            f"{group.line_rows[number]} and {row})",
                        )
                    )
                elif not problems:
                    group.line_rows[number] = row
        return (None if problems else line), problems

    def finish(self) -> list[dict[str, Any]]:
        documents = []
        for group in self.groups.values():
            if group.bad_rows:
                if self.policy == "accept_valid_rows":
                    bad = ", ".join(str(r) for r in group.bad_rows[:5])
                    for row in group.rows:
                        if row not in group.bad_rows:
                            self.errors.append(
                                RowError(
                                    row,
                                    None,
                                    None,
                                    f"not imported with the rest of {group.label}: row(s) "
                                    f"{bad} of it have errors, and {A_WHAT[self.kind]} is "
                                    "imported whole or not at all",
                                )
                            )
                continue
            documents.append(
                {"index": group.first_row, "rows": group.rows, **group.fields, "lines": group.lines}
            )
        self.errors.sort(key=lambda e: e.row)
        return documents


# The fields that make a document's key: its rows agree on them by definition (written
# however: "ACME" and "Acme", "INV-1" and "inv 1"); the first row's spelling is kept.
_KEYS: dict[Kind, tuple[str, ...]] = {
    "vendor_invoices": ("vendor_name", "invoice_number"),
    "purchase_orders": ("po_number",),
    "goods_receipts": ("receipt_number",),
}


def _same(name: str, first: Any, value: Any, kind: Kind) -> bool:
    if name in _KEYS[kind]:
        return True
    if name.endswith("_number") and isinstance(first, str) and isinstance(value, str):
        return (
            re.sub(r"[^0-9A-Za-z]+", "", first).upper()
            == re.sub(r"[^0-9A-Za-z]+", "", value).upper()
        )
    return bool(first == value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
