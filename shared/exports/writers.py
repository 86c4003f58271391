"""The three formats, each writing a `Table`'s rows as they arrive into a binary sink.

- **CSV**: UTF-8 **with** a byte-order mark, comma-separated, CRLF line ends (RFC 4180),
  a header row. The BOM is for Excel, the main reader of a spreadsheet export: without it
  Excel on Windows reads UTF-8 as the ANSI code page and garbles every accented or CJK
  name; every CSV library reads it (Python: ``encoding="utf-8-sig"``). Dates are ISO
  (``2026-03-31``), timestamps RFC 3339, money the database's decimal string at the
  currency's scale (``1234.50``, no thousands separator), booleans ``true``/``false``.
  Text cells starting with ``= + - @``, a tab or a carriage return are prefixed with ``'``
  (OWASP's CSV-injection rule), so no client-supplied name becomes a formula.
- **XLSX** (xlsxwriter in ``constant_memory`` mode: each row goes to a temporary file in
  /tmp as it is written, nothing accumulates): typed cells — dates are dates
  (``yyyy-mm-dd``), money numbers in the currency's minor unit (``#,##0.00``, JPY
  ``#,##0``, KWD ``#,##0.000``), counts integers — a bold header row, frozen, with an
  autofilter, and column widths; text is always written as a string, never as a formula.
  A second sheet says what the export covers.
- **PDF** (fpdf2): a heading, a chart of the series where the report has one (billed and
  collected per period, one chart per currency), and the table, its header repeated on
  every page. A PDF holds at most `PDF_MAX_ROWS` rows (it is for reading, not for data).

xlsxwriter and fpdf2 are imported inside their writer: a CSV export does not load them.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from shared.exports.table import Column, Point, Row, Table, Value, minor_unit

PDF_MAX_ROWS = 2000  # about 45 pages; fpdf2 sets 1,000 rows in 1.3-2.9 s here
CSV_BATCH = 500  # rows formatted per write to the sink
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_STARTS)
FONTS_DIR = Path(__file__).resolve().parent.parent / "pdf" / "fonts"


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def tell(self) -> int: ...

    def flush(self) -> None: ...


class TooManyRows(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} rows")
        self.limit = limit


FORMATS: dict[str, tuple[str, str]] = {
    # format -> (content type, file extension)
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": ("application/pdf", "pdf"),
}


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def safe_text(value: str) -> str:
    """A text cell a spreadsheet will not evaluate."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_rows(table: Table) -> Iterator[list[Any]]:
    """The rows as the csv module writes them: it prints ``None`` as an empty cell and
    ``str()`` of the rest, which is already the export's text for decimal strings and
    ``Decimal`` amounts, ints and ISO date strings; only the columns whose ``str()`` is
    not are touched (text neutralised, booleans, ``date``/``datetime`` objects)."""
    kinds = [c.kind for c in table.columns]
    texts = [i for i, k in enumerate(kinds) if k == "text"]
    flags = [i for i, k in enumerate(kinds) if k == "bool"]
    stamps = [i for i, k in enumerate(kinds) if k in ("date", "datetime")]
    for row in table.counted():
        cells = list(row)
        for i in texts:
            text = cells[i]
            if text and text[0] in _FORMULA_FIRST:  # type: ignore[index]
                cells[i] = "'" + text  # type: ignore[operator]
        for i in flags:
            if cells[i] is not None:
                cells[i] = "true" if cells[i] else "false"
        for i in stamps:
            value = cells[i]
            if value is not None and not isinstance(value, str):
                cells[i] = value.isoformat()  # type: ignore[union-attr]
        yield cells


def write_csv(table: Table, sink: Sink) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.key for c in table.columns])
    sink.write(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    rows = _csv_rows(table)
    while batch := list(itertools.islice(rows, CSV_BATCH)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)
        sink.write(buffer.getvalue().encode("utf-8"))


# --------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------

MONEY_FORMATS = {0: "#,##0", 2: "#,##0.00", 3: "#,##0.000"}
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DECIMAL_FORMAT = "#,##0.0##"


def _day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _moment(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _amount(value: Decimal | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


CellWriter = Callable[[int, int, Any, Any], object]


def _cell_writers(sheet: Any, kinds: list[str], formats: dict[str, Any]) -> list[CellWriter]:
    """One typed xlsxwriter call per column (``write_*``, never the guessing ``write``)."""
    number, string = sheet.write_number, sheet.write_string
    stamp, boolean = sheet.write_datetime, sheet.write_boolean
    dates, stamps, decimals = formats["date"], formats["datetime"], formats["decimal"]
    by_kind: dict[str, CellWriter] = {
        "money": lambda r, c, v, money: number(r, c, float(v), money),
        "text": lambda r, c, v, _: string(r, c, v),
        "date": lambda r, c, v, _: stamp(r, c, _day(v), dates),
        "datetime": lambda r, c, v, _: stamp(r, c, _naive_utc(_moment(v)), stamps),
        "int": lambda r, c, v, _: number(r, c, v),
        "decimal": lambda r, c, v, _: number(r, c, float(v), decimals),
        "bool": lambda r, c, v, _: boolean(r, c, bool(v)),
    }
    return [by_kind[kind] for kind in kinds]


def _xlsx_rows(sheet: Any, table: Table, formats: dict[str, Any]) -> int:
    money = formats["money"]
    cells = _cell_writers(sheet, [c.kind for c in table.columns], formats)
    currency_at = table.currency_index
    line = 0
    money_format = money[2]
    for row in table.counted():
        line += 1
        if currency_at is not None:
            money_format = money[minor_unit(row[currency_at])]  # type: ignore[arg-type]
        for index, value in enumerate(row):
            if value is not None:
                cells[index](line, index, value, money_format)
    return line


def _close_row_files(workbook: Any) -> None:
    """Closes the constant_memory row files of a workbook that will not be closed."""
    for sheet in workbook.worksheets():
        handle = getattr(sheet, "row_data_fh", None)
        if handle is not None and not handle.closed:
            handle.close()


def write_xlsx(table: Table, sink: Sink, *, generated_at: datetime) -> None:
    """The workbook, its temporary files in a directory of this export's own: removed
    whatever happens, so a failed export leaves nothing in a reused Lambda's /tmp (and a
    failed one is never closed, which would write a whole file into an aborted upload)."""
    import xlsxwriter  # type: ignore[import-untyped]  # noqa: PLC0415 - only XLSX pays for it

    with tempfile.TemporaryDirectory(prefix="export-") as scratch:
        workbook = xlsxwriter.Workbook(
            sink,
            {
                "constant_memory": True,
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        try:
            sheet = workbook.add_worksheet(table.title[:31])
            header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#EEF2F7"})
            formats = {
                "money": {
                    d: workbook.add_format({"num_format": f}) for d, f in MONEY_FORMATS.items()
                },
                "date": workbook.add_format({"num_format": DATE_FORMAT}),
                "datetime": workbook.add_format({"num_format": DATETIME_FORMAT}),
                "decimal": workbook.add_format({"num_format": DECIMAL_FORMAT}),
            }
            columns = list(table.columns)
            for index, column in enumerate(columns):
                sheet.set_column(index, index, column.width)
                sheet.write_string(0, index, column.key, header)
            sheet.freeze_panes(1, 0)
            lines = _xlsx_rows(sheet, table, formats)
            sheet.autofilter(0, 0, max(lines, 1), len(columns) - 1)

            about = workbook.add_worksheet("About")
            about.set_column(0, 0, 14)
            about.set_column(1, 1, 60)
            for at, (label, text) in enumerate(
                (
                    ("Report", table.title),
                    ("Covers", table.subtitle),
                    ("Rows", str(lines)),
                    ("Generated", generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
                )
            ):
                about.write_string(at, 0, label, header)
                about.write_string(at, 1, text)
            workbook.close()
        except BaseException:
            _close_row_files(workbook)
            raise


# --------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------


def _fonts() -> tuple[Path, Path, Path | None] | None:
    """Part A's bundled Unicode fonts (shared/pdf/fonts: regular, bold and the CJK
    fallback), when they are there."""
    regular, bold = FONTS_DIR / "InvoiceSans.ttf", FONTS_DIR / "InvoiceSans-Bold.ttf"
    if not (regular.is_file() and bold.is_file()):
        return None
    cjk = FONTS_DIR / "InvoiceCJK.ttf"
    return regular, bold, cjk if cjk.is_file() else None


_PDF_TEXT: dict[str, Callable[[Any, str | None], str]] = {
    "money": lambda v, currency: f"{_amount(v):,.{minor_unit(currency)}f}",
    "decimal": lambda v, _: f"{_amount(v):,}",
    "bool": lambda v, _: "yes" if v else "no",
    "datetime": lambda v, _: _naive_utc(_moment(v)).strftime("%Y-%m-%d %H:%M"),
    "date": lambda v, _: _day(v).isoformat(),
}


def _pdf_text(kind: str, value: Value, currency: str | None) -> str:
    if value is None:
        return ""
    render = _PDF_TEXT.get(kind)
    return render(value, currency) if render is not None else str(value)


_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


class _Pdf:
    """The document: fpdf2 with the bundled Unicode font, else a core font (whose Latin-1
    cannot show every name: other characters print as ``?``).

    The CJK font is loaded on the first text that needs it and is the fallback only for
    such texts: fpdf2 checks every character against the fallback fonts while one is set,
    which made a 1,000-row table 3 times slower."""

    def __init__(self, landscape: bool) -> None:
        from fpdf import FPDF  # noqa: PLC0415 - only the PDF export pays for it

        self.doc: Any = FPDF(orientation="L" if landscape else "P", unit="mm", format="A4")
        self.doc.set_auto_page_break(False)
        self.doc.set_margins(12, 12, 12)
        self.cjk_font: Path | None = None
        self.cjk_loaded = False
        self.cjk_on = False
        fonts = _fonts()
        if fonts is not None:
            self.doc.add_font("export", "", str(fonts[0]))
            self.doc.add_font("export", "B", str(fonts[1]))
            self.cjk_font = fonts[2]
            self.family, self.unicode = "export", True
        else:
            self.family, self.unicode = "helvetica", False

    def text(self, value: str) -> str:
        """``value`` ready to print: the CJK fallback switched on for it when it needs it."""
        if not self.unicode:
            return value.encode("latin-1", "replace").decode("latin-1")
        if self.cjk_font is not None:
            wanted = _CJK.search(value) is not None
            if wanted and not self.cjk_loaded:
                self.doc.add_font("export-cjk", "", str(self.cjk_font))
                self.cjk_loaded = True
            if wanted != self.cjk_on:
                self.doc.set_fallback_fonts(["export-cjk"] if wanted else [], exact_match=False)
                self.cjk_on = wanted
        return value

    def font(self, size: float, bold: bool = False) -> None:
        self.doc.set_font(self.family, "B" if bold else "", size)


def _chart(pdf: _Pdf, points: list[Point], currency: str, top: float, height: float) -> None:
    """Billed and collected bars per period, with a value axis and a legend."""
    doc = pdf.doc
    left = doc.l_margin + 16
    width = doc.w - doc.r_margin - left
    bottom = top + height - 8
    peak = max([max(p.billed, p.collected) for p in points] + [Decimal(0)])
    scale = peak if peak > 0 else Decimal(1)
    pdf.font(8, bold=True)
    doc.set_text_color(40, 40, 40)
    doc.text(doc.l_margin, top - 1, pdf.text(f"Billed and collected ({currency})"))
    pdf.font(6)
    doc.set_draw_color(200, 200, 200)
    for step in range(5):
        value = scale * step / 4
        y = bottom - float(value / scale) * (height - 14)
        doc.line(left, y, left + width, y)
        label = f"{value:,.0f}"
        doc.text(left - 2 - doc.get_string_width(label), y + 1, label)
    slot = width / max(len(points), 1)
    bar = max(min(slot * 0.36, 8), 0.3)
    labels_every = max(1, int(len(points) / max(width / 14, 1)) + 1)
    for index, point in enumerate(points):
        x = left + index * slot + (slot - 2 * bar) / 2
        for offset, (value, color) in enumerate(
            ((point.billed, (52, 101, 164)), (point.collected, (115, 186, 96)))
        ):
            h = float(value / scale) * (height - 14)
            doc.set_fill_color(*color)
            if h > 0:
                doc.rect(x + offset * bar, bottom - h, bar, h, style="F")
        if index % labels_every == 0:
            label = pdf.text(point.label)
            doc.text(
                left + index * slot + slot / 2 - doc.get_string_width(label) / 2,
                bottom + 3.5,
                label,
            )
    doc.set_draw_color(120, 120, 120)
    doc.line(left, bottom, left + width, bottom)
    for offset, (name, color) in enumerate(
        (("billed", (52, 101, 164)), ("collected", (115, 186, 96)))
    ):
        x = left + width - 40 + offset * 20
        doc.set_fill_color(*color)
        doc.rect(x, top - 3.5, 3, 3, style="F")
        doc.text(x + 4, top - 1, name)


class _TableLayout:
    """The PDF's pages: heading, charts, then the rows under a header repeated on every
    page, and a footer naming the report and the page."""

    ROW = 5.0

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns = [(i, c) for i, c in enumerate(table.columns) if c.in_pdf]
        total_width = sum(c.width for _, c in self.columns)
        self.pdf = _Pdf(landscape=total_width > 110)
        doc = self.doc = self.pdf.doc
        usable = doc.w - doc.l_margin - doc.r_margin
        self.widths = [usable * c.width / total_width for _, c in self.columns]
        self.aligns = [
            "R" if c.kind in ("money", "int", "decimal") else "L" for _, c in self.columns
        ]
        self.bottom = doc.h - 16  # the footer's line is at h - 7

    def fit(self, text: str, width: float) -> str:
        """``text`` cut (with an ellipsis) to fit ``width`` beside the cell's padding."""
        room = width - 2 * self.doc.c_margin
        if len(text) < width / 2.2 or self.doc.get_string_width(text) <= room:
            return text  # 7.5 pt: no character is wider than 2.2 mm
        mark = "…" if self.pdf.unicode else "..."
        while text and self.doc.get_string_width(text + mark) > room:
            text = text[:-1]
        return text.rstrip() + mark

    def footer(self) -> None:
        doc, pdf = self.doc, self.pdf
        pdf.font(7)
        doc.set_text_color(120, 120, 120)
        doc.text(doc.l_margin, doc.h - 7, pdf.text(f"{self.table.title} · {self.table.subtitle}"))
        page = f"page {doc.page_no()}"
        doc.text(doc.w - doc.r_margin - doc.get_string_width(page), doc.h - 7, page)
        doc.set_text_color(0, 0, 0)

    def new_page(self) -> None:
        self.footer()
        self.doc.add_page()

    def header(self) -> None:
        doc, pdf = self.doc, self.pdf
        pdf.font(7.5, bold=True)
        doc.set_fill_color(238, 242, 247)
        for width, (_, column), align in zip(self.widths, self.columns, self.aligns, strict=True):
            doc.cell(
                width, self.ROW + 1, pdf.text(column.title), border="B", align=align, fill=True
            )
        doc.ln(self.ROW + 1)
        pdf.font(7.5)

    def heading(self, generated_at: datetime) -> None:
        doc, pdf = self.doc, self.pdf
        doc.add_page()
        pdf.font(15, bold=True)
        doc.cell(0, 8, pdf.text(self.table.title))
        doc.ln(8)
        pdf.font(9)
        doc.set_text_color(90, 90, 90)
        doc.cell(0, 5, pdf.text(self.table.subtitle))
        doc.ln(5)
        doc.cell(0, 5, generated_at.strftime("Generated %Y-%m-%d %H:%M UTC"))
        doc.ln(8)
        doc.set_text_color(0, 0, 0)

    def charts(self) -> None:
        by_currency: dict[str, list[Point]] = {}
        for point in self.table.series:
            by_currency.setdefault(point.currency, []).append(point)
        for currency, points in list(by_currency.items())[:3]:
            if self.doc.get_y() + 62 > self.bottom:
                self.new_page()
            top = self.doc.get_y() + 4
            _chart(self.pdf, points, currency, top, 56)
            self.doc.set_y(top + 58)

    def rows(self, rows: list[Row]) -> None:
        doc, pdf, table = self.doc, self.pdf, self.table
        if doc.get_y() + 3 * self.ROW > self.bottom:
            self.new_page()
        self.header()
        currency_at = table.currency_index
        layout = list(zip(self.widths, self.columns, self.aligns, strict=True))
        stripe = False
        for row in rows:
            if doc.get_y() + self.ROW > self.bottom:
                self.new_page()
                self.header()
            currency = row[currency_at] if currency_at is not None else None
            stripe = not stripe
            if stripe:
                doc.set_fill_color(248, 249, 251)
            for width, (index, column), align in layout:
                text = pdf.text(_pdf_text(column.kind, row[index], currency))  # type: ignore[arg-type]
                if column.kind == "text":
                    text = self.fit(text, width)
                doc.cell(width, self.ROW, text, align=align, fill=stripe)
            doc.ln(self.ROW)
        if not rows:
            pdf.font(8)
            doc.cell(0, self.ROW, "No rows in this range.")
        self.footer()


def write_pdf(table: Table, sink: Sink, *, generated_at: datetime) -> None:
    # The rows are taken first (at most one more than a PDF holds: a few hundred KiB),
    # so a report too long for a PDF is refused before anything is drawn or stored.
    rows = list(itertools.islice(table.counted(), PDF_MAX_ROWS + 1))
    if len(rows) > PDF_MAX_ROWS:
        raise TooManyRows(PDF_MAX_ROWS)
    layout = _TableLayout(table)
    layout.heading(generated_at)
    if table.series:
        layout.charts()
    layout.rows(rows)
    sink.write(bytes(layout.doc.output()))


def write(table: Table, fmt: str, sink: Sink, *, generated_at: datetime) -> None:
    if fmt == "csv":
        write_csv(table, sink)
    elif fmt == "xlsx":
        write_xlsx(table, sink, generated_at=generated_at)
    elif fmt == "pdf":
        if table.total is not None and table.total > PDF_MAX_ROWS:
            raise TooManyRows(PDF_MAX_ROWS)
        write_pdf(table, sink, generated_at=generated_at)
    else:  # pragma: no cover - the route checks the format
        raise ValueError(fmt)


__all__ = ["FORMATS", "PDF_MAX_ROWS", "Column", "TooManyRows", "write"]
