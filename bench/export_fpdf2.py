"""The report export's previous PDF writer, on fpdf2: kept only for bench/export_pdf.py's
comparison.

`shared.exports.writers.write_pdf` was this code (before it moved to reportlab and
`shared.pdf`'s fonts and shaping); the copy draws the same pages with the same bundled
fonts so that the side-by-side figures in bench/RESULTS.md ("Issue 5: report export")
stay reproducible. fpdf2 is a dev dependency; nothing outside `bench/` imports this.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.exports.table import Point, Row, Table, Value, minor_unit
from shared.exports.writers import (
    PDF_MAX_ROWS,
    Sink,
    TooManyRows,
    _amount,
    _day,
    _moment,
    _naive_utc,
)

FONTS_DIR = Path(__file__).resolve().parent.parent / "shared" / "pdf" / "fonts"


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
