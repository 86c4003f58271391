"""Vendor invoices, purchase orders and goods receipts read from a CSV file (`parse_csv`):
validated, normalized, grouped into documents ready for one import RPC.

The CSV layout (docs/api.md, "Reconciliation: import") is **one row per line**; the
document's own fields (vendor, number, dates, currency, totals) are repeated on every
row of the document or left blank after its first row. The rows of one document are
those sharing its key: vendor + invoice number (invoices), the PO number (purchase
orders), the receipt number (receipts); they need not be next to each other.

What is accepted:

- the encoding: UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252;
- the separator: ``,``, ``;`` or a tab, sniffed from the header line; quoted fields
  (with separators, quotes and line breaks inside); blank lines (skipped);
- header names in any case and spacing, with common synonyms (``Invoice No``,
  ``invoice_number``, ``Inv #``, ``Qty``, ``Supplier`` ...); unknown columns are ignored;
- numbers with thousands separators and either decimal mark: ``1,234.56``, ``1.234,56``,
  ``1 234,56``, ``1'234.56``, ``1234,5``. A lone separator followed by exactly three
  digits (``1,234``) is read with the file's decimal mark, decided once per file from its
  unambiguous numbers (else ``,`` in ``;``-separated files, ``.`` otherwise);
- dates: ISO ``2026-12-31``, ``31.12.2026``, ``31 Dec 2026``, ``Dec 31, 2026``,
  ``31-Dec-2026``, and ``31/12/2026`` or ``12/31/2026``. Whether slashed dates are
  day/month or month/day is decided **once per file**: from the dates that can only be
  read one way (a first number above 12 means day first, a second one above 12 month
  first; the majority wins, and dates contradicting it are rejected with the reason),
  else from the file's decimal mark (``,``: day first, ``.``: month first), unless the
  import names ``date_order`` itself;
- amounts as ``Decimal`` (never a float), currencies as ISO 4217 codes.

The file is read twice as a stream of rows (a first pass gathers the evidence for the
date order and the decimal mark); only the normalized documents are kept, as the JSON
the import RPC takes.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence

from shared.reconciliation.ingest.columns import (
    BY_HEADER,
    COLUMNS,
    DateOrder,
    Kind,
    Policy,
    header_key,
)
from shared.reconciliation.ingest.documents import Assembler, Parsed, RowError
from shared.reconciliation.ingest.values import CURRENCY_SYMBOLS, Reading, slashed_parts

MAX_ROWS = 50_000
MAX_FILE_BYTES = 10 * 1024 * 1024


def _decode(data: bytes) -> tuple[str, bytes]:
    """The encoding of ``data`` and the bytes without their BOM."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", data
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start : start + step], final=start + step >= len(data))
    except UnicodeDecodeError:
        return "cp1252", data
    return "utf-8", data


def _lines(data: bytes, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")


def _delimiter(header: str) -> str:
    counts = dict.fromkeys((";", "\t", ","), 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _records(data: bytes, encoding: str, delimiter: str) -> Iterator[list[str]]:
    reader = csv.reader(_lines(data, encoding), delimiter=delimiter, quotechar='"', strict=False)
    yield from reader


def _blank(record: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in record)


def parse_csv(  # noqa: PLR0912, PLR0915 (header, two passes, one place)
    data: bytes,
    kind: Kind,
    *,
    policy: Policy = "all_or_nothing",
    date_order: DateOrder | None = None,
) -> Parsed:
    """A CSV file's documents and rejected rows (see the module's doc for the layout)."""
    encoding, data = _decode(data)
    first = ""
    for line in _lines(data, encoding):
        if line.strip():
            first = line
            break
    if not first:
        return Parsed(kind, [], [RowError(0, None, None, "the file is empty")], 0)
    delimiter = _delimiter(first)
    records = _records(data, encoding, delimiter)
    header: list[str] = []
    for record in records:
        if not _blank(record):
            header = record
            break
    lookup = BY_HEADER[kind]
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    errors: list[RowError] = []
    for index, name in enumerate(header):
        column = lookup.get(header_key(name))
        if column is None:
            continue
        if column.name in positions:
            errors.append(
                RowError(
                    0,
                    name.strip(),
                    None,
                    f"the columns {labels[column.name]!r} and {name.strip()!r} both give "
                    f"{column.name}; keep one",
                )
            )
            continue
        positions[column.name] = index
        labels[column.name] = name.strip().replace("\ufeff", "")
    for column in COLUMNS[kind]:
        if column.required and column.name not in positions:
            synonyms = ", ".join(column.synonyms[:4])
            errors.append(
                RowError(
                    0,
                    column.name,
                    None,
                    f"the header has no {column.name} column (also accepted: {synonyms})",
                )
            )
    if kind == "goods_receipts" and "po_line" not in positions and "item_code" not in positions:
        errors.append(
            RowError(0, "po_line", None, "the header needs a po_line or an item_code column")
        )

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 0
        started = False
        for record in _records(data, encoding, delimiter):
            if not started:
                if not _blank(record):
                    started = True
                continue
            number += 1
            if not _blank(record):
                yield number, record

    if errors:
        total = sum(1 for _ in rows())
        return Parsed(kind, [], errors, total, columns=labels)

    def cell(record: list[str], name: str) -> str:
        index = positions.get(name)
        return record[index] if index is not None and index < len(record) else ""

    # First pass: how this file writes numbers and dates.
    numeric = [c.name for c in COLUMNS[kind] if c.type in ("money", "quantity", "price")]
    dated = [c.name for c in COLUMNS[kind] if c.type == "date"]
    votes = {".": 0, ",": 0}
    day_first: list[int] = []
    month_first: list[int] = []
    total = 0
    for number, record in rows():
        total += 1
        for name in numeric:
            mark = _decimal_evidence(cell(record, name))
            if mark:
                votes[mark] += 1
        for name in dated:
            parts = slashed_parts(cell(record, name))
            if parts and parts[0] > 12 >= parts[1] and len(day_first) < 1000:
                day_first.append(number)
            elif parts and parts[1] > 12 >= parts[0] and len(month_first) < 1000:
                month_first.append(number)
    if total > MAX_ROWS:
        return Parsed(
            kind,
            [],
            [
                RowError(
                    0, None, None, f"the file has {total:,} rows; at most {MAX_ROWS:,} per import"
                )
            ],
            total,
            columns=labels,
        )
    if votes["."] != votes[","]:
        decimal_mark = "." if votes["."] > votes[","] else ","
    else:
        decimal_mark = "," if delimiter == ";" else "."
    order: DateOrder
    if date_order:
        order, evidence = date_order, " (the import's date_order)"
    elif day_first or month_first:
        order = "dmy" if len(day_first) >= len(month_first) else "mdy"
        sample = day_first[0] if order == "dmy" else month_first[0]
        words = "day/month/year" if order == "dmy" else "month/day/year"
        evidence = f" (this file's dates are {words}, as row {sample} shows)"
    else:
        order = "dmy" if decimal_mark == "," else "mdy"
        words = "day/month/year" if order == "dmy" else "month/day/year"
        evidence = f" (this file's dates are read as {words})"
    reading = Reading(decimal_mark=decimal_mark, date_order=order, evidence=evidence)

    # Second pass: the rows.
    assembler = Assembler(kind, policy, labels)
    names = [c.name for c in COLUMNS[kind]]
    for number, record in rows():
        assembler.add(number, {name: cell(record, name) for name in names}, reading)
    documents = assembler.finish()
    return Parsed(
        kind,
        documents,
        assembler.errors,
        total,
        decimal_mark=decimal_mark,
        date_order=order,
        columns=labels,
    )


def _decimal_evidence(text: str) -> str | None:
    """The decimal mark a number shows unambiguously, if it does."""
    raw = text.strip().strip(CURRENCY_SYMBOLS).strip()
    if "." in raw and "," in raw:
        return "." if raw.rfind(".") > raw.rfind(",") else ","
    for sep in (".", ","):
        if raw.count(sep) == 1:
            tail = raw.rsplit(sep, 1)[1]
            if tail.isdigit() and len(tail) != 3:
                return sep
    return None
