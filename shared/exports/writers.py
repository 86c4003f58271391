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
- **PDF** (reportlab's canvas with `shared.pdf.text`'s bundled fonts and text shaping: CJK and
  Korean names from the fallback fonts, Arabic joined and right-to-left names in display
  order): a heading, a chart of the series where the report has one (billed and
  collected per period, one chart per currency), and the table, its header repeated on
  every page, money right-aligned in the currency's minor unit, "page n of N" in the
  footer. A PDF holds at most `PDF_MAX_ROWS` rows (it is for reading, not for data).

xlsxwriter and reportlab (`shared.pdf`) are imported inside their writer: a CSV export
does not load them.
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
from typing import Any, Protocol

from shared.exports.table import Column, Point, Row, Table, Value, minor_unit
from shared.formatting import format_amount

PDF_MAX_ROWS = 2000  # about 45 pages (bench/export_pdf.py)
CSV_BATCH = 500  # rows formatted per write to the sink
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_STARTS)


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

_PDF_TEXT: dict[str, Callable[[Any, str | None], str]] = {
    "money": lambda v, currency: format_amount(_amount(v), currency or ""),
    "decimal": lambda v, _: f"{_amount(v):,}",
    "bool": lambda v, _: "yes" if v else "no",
    "datetime": lambda v, _: _naive_utc(_moment(v)).strftime("%Y-%m-%d %H:%M"),
    "date": lambda v, _: _day(v).isoformat(),
}
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _pdf_text(kind: str, value: Value, currency: str | None) -> str:
    if value is None:
        return ""
    render = _PDF_TEXT.get(kind)
    if render is not None:
        return render(value, currency)
    return _CONTROL.sub(" ", str(value))


Color = tuple[int, int, int]
BILLED: Color = (52, 101, 164)
COLLECTED: Color = (115, 186, 96)
HEADER_FILL: Color = (238, 242, 247)
STRIPE: Color = (248, 249, 251)
GREY: Color = (120, 120, 120)
TEXT: Color = (0, 0, 0)


class _Page:
    """What one page holds, in mm from the top left: filled rectangles, lines and texts
    (each text already split into runs by font), drawn once the page count is known."""

    def __init__(self) -> None:
        self.rects: list[tuple[float, float, float, float, Color]] = []
        self.lines: list[tuple[float, float, float, float, Color]] = []
        self.texts: list[tuple[float, float, float, Color, list[tuple[Any, str]]]] = []


class _PdfReport:
    """The PDF on reportlab's canvas with `shared.pdf.text`'s bundled fonts: a heading, the
    charts of the series (billed and collected per period, one per currency), then the
    rows under a header repeated on every page, and a footer naming the report and
    "page n of N". Texts are shaped as the invoice PDF shapes them (CJK and Korean from
    their fallback fonts, Arabic joined, right-to-left in display order)."""

    ROW = 5.0
    MARGIN = 12.0
    PAD = 1.5  # a cell's text is this far in from its sides

    def __init__(self, table: Table, rows: list[Row]) -> None:
        from shared.pdf.text import PT, Fonts  # noqa: PLC0415 - only the PDF export pays for it

        self.pt = PT
        self.table, self.rows = table, rows
        self.columns = [(i, c) for i, c in enumerate(table.columns) if c.in_pdf]
        texts = [table.title, table.subtitle, *(c.title for _, c in self.columns)]
        texts += [p.label for p in table.series]
        for index, column in self.columns:
            if column.kind == "text":
                texts += [str(r[index]) for r in rows if r[index] is not None]
        self.fonts = Fonts.of(texts)
        total_width = sum(c.width for _, c in self.columns) or 1
        landscape = total_width > 110
        self.w, self.h = (297.0, 210.0) if landscape else (210.0, 297.0)
        usable = self.w - 2 * self.MARGIN
        self.widths = [usable * c.width / total_width for _, c in self.columns]
        self.right = [c.kind in ("money", "int", "decimal") for _, c in self.columns]
        self.bottom = self.h - 16  # the footer's line is at h - 7
        self.pages: list[_Page] = []
        self.y = self.MARGIN

    # the cursor ------------------------------------------------------------------------

    @property
    def page(self) -> _Page:
        return self.pages[-1]

    def add_page(self) -> None:
        self.pages.append(_Page())
        self.y = self.MARGIN

    def width(self, line: str, size: float, bold: bool = False) -> float:
        return float(self.fonts.width(line, size, bold))

    def text(
        self,
        x: float,
        baseline: float,
        line: str,
        size: float,
        color: Color = TEXT,
        *,
        bold: bool = False,
    ) -> None:
        """``line`` (already shaped) with its left end at ``x``."""
        self.page.texts.append((x, baseline, size, color, self.fonts.runs(line, bold)))

    def fit(self, text: str, room: float, size: float) -> str:
        """``text`` shaped, cut (with an ellipsis) to fit ``room`` mm."""
        if len(text) * size / self.pt <= room:  # no character is wider than 1 em
            return str(self.fonts.line(text))
        shaped = self.fonts.logical(text)
        if self.width(shaped, size) <= room:
            return str(self.fonts.visual(shaped))
        while shaped and self.width(shaped + "…", size) > room:
            shaped = shaped[:-1]
        return str(self.fonts.visual(shaped.rstrip() + "…"))

    # the parts ---------------------------------------------------------------------------

    def heading(self, generated_at: datetime) -> None:
        table, fonts, m = self.table, self.fonts, self.MARGIN
        self.add_page()
        self.text(m, m + 5.8, self.fit(table.title, self.w - 2 * m, 15), 15, bold=True)
        grey: Color = (90, 90, 90)
        self.text(m, m + 11.4, self.fit(table.subtitle, self.w - 2 * m, 9), 9, grey)
        self.text(
            m, m + 16.4, fonts.line(generated_at.strftime("Generated %Y-%m-%d %H:%M UTC")), 9, grey
        )
        self.y = m + 26

    def chart(self, points: list[Point], currency: str, top: float, height: float) -> None:
        """Billed and collected bars per period, with a value axis and a legend."""
        page, m = self.page, self.MARGIN
        left = m + 16
        width = self.w - m - left
        bottom = top + height - 8
        peak = max([max(p.billed, p.collected) for p in points] + [Decimal(0)])
        scale = peak if peak > 0 else Decimal(1)
        dark: Color = (40, 40, 40)
        self.text(
            m, top - 1, self.fonts.line(f"Billed and collected ({currency})"), 8, dark, bold=True
        )
        for step in range(5):
            value = scale * step / 4
            y = bottom - float(value / scale) * (height - 14)
            page.lines.append((left, y, left + width, y, (200, 200, 200)))
            label = f"{value:,.0f}"
            self.text(left - 2 - self.width(label, 6), y + 1, label, 6, dark)
        slot = width / max(len(points), 1)
        bar = max(min(slot * 0.36, 8), 0.3)
        labels_every = max(1, int(len(points) / max(width / 14, 1)) + 1)
        for index, point in enumerate(points):
            x = left + index * slot + (slot - 2 * bar) / 2
            for offset, (value, color) in enumerate(
                ((point.billed, BILLED), (point.collected, COLLECTED))
            ):
                h = float(value / scale) * (height - 14)
                if h > 0:
                    page.rects.append((x + offset * bar, bottom - h, bar, h, color))
            if index % labels_every == 0:
                label = self.fit(point.label, slot * labels_every, 6)
                centre = left + index * slot + slot / 2
                self.text(centre - self.width(label, 6) / 2, bottom + 3.5, label, 6, dark)
        page.lines.append((left, bottom, left + width, bottom, GREY))
        for offset, (name, color) in enumerate((("billed", BILLED), ("collected", COLLECTED))):
            x = left + width - 40 + offset * 20
            page.rects.append((x, top - 3.5, 3, 3, color))
            self.text(x + 4, top - 1, name, 6, dark)

    def charts(self) -> None:
        by_currency: dict[str, list[Point]] = {}
        for point in self.table.series:
            by_currency.setdefault(point.currency, []).append(point)
        for currency, points in list(by_currency.items())[:3]:
            if self.y + 62 > self.bottom:
                self.add_page()
            top = self.y + 4
            self.chart(points, currency, top, 56)
            self.y = top + 58

    def cells(self, texts: list[str], size: float, *, bold: bool = False) -> None:
        """One row of cells at the cursor, text vertically centred, numbers right."""
        x = self.MARGIN
        height = self.ROW + (1 if bold else 0)
        baseline = self.y + height / 2 + size * 0.35 / self.pt
        for text, width, right in zip(texts, self.widths, self.right, strict=True):
            if text:
                at = x + width - self.PAD - self.width(text, size, bold) if right else x + self.PAD
                self.text(at, baseline, text, size, bold=bold)
            x += width
        self.y += height

    def header(self) -> None:
        page, m = self.page, self.MARGIN
        page.rects.append((m, self.y, self.w - 2 * m, self.ROW + 1, HEADER_FILL))
        page.lines.append((m, self.y + self.ROW + 1, self.w - m, self.y + self.ROW + 1, GREY))
        self.cells(
            [
                self.fit(c.title, w - 2 * self.PAD, 7.5)
                for (_, c), w in zip(self.columns, self.widths, strict=True)
            ],
            7.5,
            bold=True,
        )

    def body(self) -> None:
        if self.y + 3 * self.ROW > self.bottom:
            self.add_page()
        self.header()
        currency_at = self.table.currency_index
        layout = [
            (index, column.kind, width - 2 * self.PAD)
            for (index, column), width in zip(self.columns, self.widths, strict=True)
        ]
        stripe = False
        full = self.w - 2 * self.MARGIN
        for row in self.rows:
            if self.y + self.ROW > self.bottom:
                self.add_page()
                self.header()
            currency = row[currency_at] if currency_at is not None else None
            stripe = not stripe
            if stripe:
                self.page.rects.append((self.MARGIN, self.y, full, self.ROW, STRIPE))
            texts = []
            for index, kind, room in layout:
                text = _pdf_text(kind, row[index], currency)  # type: ignore[arg-type]
                texts.append(self.fit(text, room, 7.5) if kind == "text" and text else text)
            self.cells(texts, 7.5)
        if not self.rows:
            self.text(self.MARGIN + self.PAD, self.y + 3.5, "No rows in this range.", 8)

    def footers(self) -> None:
        footer = self.fit(f"{self.table.title} · {self.table.subtitle}", self.w * 0.7, 7)
        count = len(self.pages)
        for number, page in enumerate(self.pages, start=1):
            label = f"page {number} of {count}"
            runs = self.fonts.runs
            page.texts.append((self.MARGIN, self.h - 7, 7, GREY, runs(footer, False)))
            at = self.w - self.MARGIN - self.width(label, 7)
            page.texts.append((at, self.h - 7, 7, GREY, runs(label, False)))

    # drawing ---------------------------------------------------------------------------

    def render(self, generated_at: datetime) -> bytes:
        from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]  # noqa: PLC0415

        self.heading(generated_at)
        if self.table.series:
            self.charts()
        self.body()
        self.footers()
        pt, h = self.pt, self.h
        out = io.BytesIO()
        canvas = Canvas(
            out,
            pagesize=(self.w * pt, h * pt),
            invariant=1,
            pageCompression=1,
            initialFontName=self.fonts.regular.name,  # else an unused Helvetica
            initialFontSize=7.5,
        )
        stamp = f"D:{generated_at.astimezone(UTC):%Y%m%d%H%M%S}+00'00'"
        canvas.setDateFormatter(lambda *_: stamp)
        canvas.setTitle(self.table.title)
        canvas.setSubject(self.table.subtitle)
        canvas.setProducer("InvoiceFlow")
        for page in self.pages:
            fill: Color | None = None
            for x, y, w, rh, color in page.rects:
                if color != fill:
                    canvas.setFillColorRGB(*(c / 255 for c in color))
                    fill = color
                canvas.rect(x * pt, (h - y - rh) * pt, w * pt, rh * pt, stroke=0, fill=1)
            stroke: Color | None = None
            canvas.setLineWidth(0.2 * pt)
            for x1, y1, x2, y2, color in page.lines:
                if color != stroke:
                    canvas.setStrokeColorRGB(*(c / 255 for c in color))
                    stroke = color
                canvas.line(x1 * pt, (h - y1) * pt, x2 * pt, (h - y2) * pt)
            t = canvas.beginText()
            font: tuple[str, float] | None = None
            ink: Color | None = None
            for x, y, size, color, runs in page.texts:
                if color != ink:
                    t.setFillColorRGB(*(c / 255 for c in color))
                    ink = color
                t.setTextOrigin(x * pt, (h - y) * pt)
                for face, part in runs:
                    if (face.name, size) != font:
                        t.setFont(face.name, size)
                        font = (face.name, size)
                    t.textOut(part)
            canvas.drawText(t)
            canvas.showPage()
        canvas.save()
        return out.getvalue()


def write_pdf(table: Table, sink: Sink, *, generated_at: datetime) -> None:
    # The rows are taken first (at most one more than a PDF holds: a few hundred KiB),
    # so a report too long for a PDF is refused before anything is drawn or stored.
    rows = list(itertools.islice(table.counted(), PDF_MAX_ROWS + 1))
    if len(rows) > PDF_MAX_ROWS:
        raise TooManyRows(PDF_MAX_ROWS)
    sink.write(_PdfReport(table, rows).render(generated_at))


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
