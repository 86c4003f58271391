"""The previous invoice renderer, on fpdf2: kept only for bench/pdf.py's comparison.

`shared.pdf` was this module (`shared/pdf/invoice.py` before commit 6770db0) until it
moved to reportlab; the copy here draws the same three templates with the same bundled
fonts so that the side-by-side figures in bench/RESULTS.md stay reproducible. Nothing
outside `bench/` imports it.

The invoice PDF: one layout engine, three templates.

Layout, top to bottom: the business (logo, name, address, contacts, tax id) and
the title; the client ("Bill to") beside the invoice's number, dates, terms and
balance due; the items table (it flows over pages and repeats its header row);
the totals (subtotal, discount, tax with its label, total, amount paid, balance
due) kept together on the last page; notes, terms and payment instructions. Each
page has the business's footer and "Page n of N"; drafts and cancelled invoices
carry a watermark.

Fonts are bundled (fonts/README.md): DejaVu Sans subsets (Latin; Greek,
Cyrillic, Hebrew, Arabic), a Droid Sans Fallback subset for Chinese and Japanese
and a Nanum Gothic subset for Korean, the last two registered only as fallbacks
when the document has such characters (the CJK font costs about 100 ms to
load). Text shaping (uharfbuzz: Arabic joining, right-to-left order) is switched
on only for documents with right-to-left text: it triples the time of a plain
one-page document.

Output is deterministic: the creation date is the invoice's issue date, and
fpdf2's file id is a hash of the content.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from shared.formatting import format_date, format_money

FONTS = Path(__file__).resolve().parents[1] / "shared" / "pdf" / "fonts"
TEMPLATES = ("professional", "modern", "minimal")
DEFAULT_TEMPLATE = "professional"

_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
# What InvoiceSansCore covers (fonts/README.md); a document with any other
# character is set in the larger InvoiceSans (Greek, Cyrillic, Hebrew, Arabic...).
_BEYOND_CORE = re.compile(
    "[^\n\u0020-\u007e\u00a0-\u017f\u0192\u0218-\u021b\u02c6-\u02dd"
    "\u2000-\u206f\u20a0-\u20c0\u2116\u2122\u2190-\u2193\u2212]"
)
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

_TERMS = {
    "due_on_receipt": "Due on receipt",
    "custom": "Custom",
}

# A logo is printed only from a data: URL (nothing is fetched while a PDF is made:
# a slow or bad URL must never break or stall it), of at most this size.
MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_PIXELS = 4_000_000

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Style:
    """What differs between the templates."""

    name: str
    title: str
    accent: Color
    text: Color
    muted: Color
    rule: Color
    header_band: bool  # the business block on a filled band (professional)
    side_strip: bool  # an accent strip down the left edge of each page (modern)
    table_header_fill: Color | None
    table_header_text: Color
    zebra: Color | None
    balance_box: bool  # the balance due in a filled box (modern, professional)
    uppercase_labels: bool
    base_size: float


STYLES = {
    "professional": Style(
        name="professional",
        title="INVOICE",
        accent=(31, 56, 100),
        text=(33, 37, 41),
        muted=(108, 117, 125),
        rule=(206, 212, 218),
        header_band=True,
        side_strip=False,
        table_header_fill=(31, 56, 100),
        table_header_text=(255, 255, 255),
        zebra=(244, 246, 249),
        balance_box=True,
        uppercase_labels=True,
        base_size=9.5,
    ),
    "modern": Style(
        name="modern",
        title="Invoice",
        accent=(0, 128, 128),
        text=(30, 41, 59),
        muted=(100, 116, 139),
        rule=(203, 213, 225),
        header_band=False,
        side_strip=True,
        table_header_fill=None,
        table_header_text=(0, 128, 128),
        zebra=None,
        balance_box=True,
        uppercase_labels=False,
        base_size=9.5,
    ),
    "minimal": Style(
        name="minimal",
        title="Invoice",
        accent=(0, 0, 0),
        text=(20, 20, 20),
        muted=(120, 120, 120),
        rule=(200, 200, 200),
        header_band=False,
        side_strip=False,
        table_header_fill=None,
        table_header_text=(120, 120, 120),
        zebra=None,
        balance_box=False,
        uppercase_labels=True,
        base_size=9,
    ),
}

MARGIN = 16.0
BOTTOM = 24.0  # the footer's room


def _clean(value: Any) -> str:
    """Printable text: tabs as spaces, no control characters, Windows newlines folded."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub("", text).strip()


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        raise TypeError("money is a Decimal, never a float")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _number(value: Any) -> str:
    """A quantity or a rate without trailing zeros: 2, 1.5, 0.25, 1,000."""
    q = _decimal(value).normalize()
    if q == q.to_integral_value():
        return f"{q.quantize(Decimal(1)):,}"
    return f"{q:,f}"


def _date(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, (date, str)):
        return format_date(value)
    return str(value)


def _terms(value: Any) -> str:
    text = _clean(value)
    if text in _TERMS:
        return _TERMS[text]
    if text.startswith("net") and text[3:].isdigit():
        return f"Net {text[3:]} days"
    return text


def _creation_date(document: dict[str, Any]) -> datetime:
    for key in ("issue_date", "created_at"):
        value = document.get(key)
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str) and len(value) >= 10:
            try:
                day = date.fromisoformat(value[:10])
            except ValueError:
                continue
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return datetime(2000, 1, 1, tzinfo=UTC)


def _logo(url: Any) -> Any:
    """The logo as a PIL image from a ``data:image/...;base64,`` URL, else ``None``.
    Anything odd (another scheme, too big, not an image) is skipped, never raised."""
    if not isinstance(url, str) or not url.startswith("data:image/"):
        return None
    header, _, payload = url.partition(",")
    if ";base64" not in header or len(payload) > MAX_LOGO_BYTES * 4 // 3 + 4:
        return None
    try:
        raw = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        from PIL import Image  # noqa: PLC0415 (only documents with a logo pay for PIL)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(BytesIO(raw))
            width, height = image.size
            if width < 1 or height < 1 or width * height > MAX_LOGO_PIXELS:
                return None
            image.load()
        return image
    except Exception:  # a broken logo leaves the invoice without one
        return None


def _texts(document: dict[str, Any]) -> Iterable[str]:
    """Every text the document prints (to choose fonts and shaping)."""
    for key in ("invoice_number", "notes", "terms", "payment_instructions"):
        yield _clean(document.get(key))
    for key, value in (document.get("client") or {}).items():
        if isinstance(value, str) and key != "id":
            yield value
    for key, value in (document.get("business") or {}).items():
        if isinstance(value, str) and key != "company_logo_url":
            yield value
        elif isinstance(value, list):
            yield from (str(v) for v in value)
    for item in document.get("items") or []:
        yield _clean(item.get("description"))


def wrapped(pdf: FPDF, width: float, height: float, text: str) -> list[str]:
    """The lines fpdf2 breaks ``text`` into in a cell of ``width``."""
    result = pdf.multi_cell(width, height, text, dry_run=True, output="LINES")
    assert isinstance(result, list)
    return [str(line) for line in result]


_PARSED: dict[tuple[str, str], TTFFont] = {}


@functools.cache
def _font_bytes(file: str) -> bytes:
    return (FONTS / file).read_bytes()


class InvoicePDF(FPDF):
    """FPDF with the invoice's page decorations (watermark, strip, footer)."""

    def __init__(
        self, style: Style, document: dict[str, Any], world: bool, cjk: bool, hangul: bool
    ) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.style = style
        self.document = document
        self.number = _clean(document.get("invoice_number"))
        business = document.get("business") or {}
        self.footer_text = _clean(business.get("invoice_footer"))
        status = _clean(document.get("status"))
        self.watermark = {"draft": "DRAFT", "cancelled": "CANCELLED"}.get(status, "")
        family = "InvoiceSans" if world else "InvoiceSansCore"
        self.add_bundled_font("sans", "", f"{family}.ttf")
        self.add_bundled_font("sans", "B", f"{family}-Bold.ttf")
        fallbacks = []
        if cjk:
            self.add_bundled_font("cjk", "", "InvoiceCJK.ttf")
            fallbacks.append("cjk")
        if hangul:
            self.add_bundled_font("hangul", "", "InvoiceHangul.ttf")
            fallbacks.append("hangul")
        self.has_fallbacks = bool(fallbacks)
        if fallbacks:
            self.set_fallback_fonts(fallbacks, exact_match=False)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=BOTTOM)
        self.c_margin = 1.5

    def add_bundled_font(self, family: str, style: str, file: str) -> None:
        """``add_font`` of a bundled font, parsed once per process.

        fpdf2 parses a font's cmap and metrics on every ``add_font`` (2.7 ms for
        the core pair, 12 ms for the larger one, 100 ms for CJK) and subsets the
        font object in place when it writes the PDF. The parsed font is kept; each
        document gets a copy with a freshly opened (lazy) font file and an empty
        subset, the per-document state ``TTFFont.__init__`` sets.
        """
        key = f"{family}{style}"
        cached = _PARSED.get((key, file))
        if cached is None:
            self.add_font(family, style, FONTS / file)
            font = self.fonts[key]
            if isinstance(font, TTFFont):
                _PARSED[(key, file)] = copy.copy(font)
        else:
            font = copy.copy(cached)
            font.i = len(self.fonts) + 1
            font.ttfont = TTFont(BytesIO(_font_bytes(file)), recalcTimestamp=False, lazy=True)
            font.missing_glyphs = []
            font.biggest_size_pt = 0
            font.subset = SubsetMap(font)
            self.fonts[key] = font
        font = self.fonts[key]
        if isinstance(font, TTFFont):
            # The bundled glyphs' boxes are right: recomputing them when fpdf2 saves
            # the subset costs a third of a one-page document (bench/pdf.py).
            font.ttfont.recalcBBoxes = False

    # A line drawn entirely in a fallback font leaves that font selected in the page
    # (a PDF's Tf outlives its BT/ET), while fpdf2 believes its own font still is: the
    # next line in the same font would be drawn with the fallback's glyph ids (garbled
    # text, tests/unit/test_pdf_render.py). With fallbacks, every text sets its font.

    def cell(self, *args: Any, **kwargs: Any) -> bool:
        if self.has_fallbacks:
            self.current_font_is_set_on_page = False
        return bool(super().cell(*args, **kwargs))

    def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
        if self.has_fallbacks:
            self.current_font_is_set_on_page = False
        return super().multi_cell(*args, **kwargs)

    # fpdf2 calls these on every page -------------------------------------------------

    def header(self) -> None:
        style = self.style
        if style.side_strip:
            self.set_fill_color(*style.accent)
            self.rect(0, 0, 5, self.h, style="F")
        if self.watermark:
            with self.local_context(), self.rotation(35, self.w / 2, self.h / 2):
                self.set_font("sans", "B", 96)
                self.set_text_color(236, 236, 236)
                width = self.get_string_width(self.watermark)
                self.text(self.w / 2 - width / 2, self.h / 2 + 12, self.watermark)
        if self.page_no() > 1:
            self.set_y(8)
            self.set_font("sans", "", 7.5)
            self.set_text_color(*style.muted)
            business = _clean((self.document.get("business") or {}).get("name"))
            self.cell(0, 4, f"{business} · {self.number} (continued)", align="L")
            self.set_y(MARGIN)

    def footer(self) -> None:
        style = self.style
        self.set_y(-BOTTOM + 6)
        self.set_draw_color(*style.rule)
        self.set_line_width(0.2)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.ln(1.5)
        self.set_text_color(*style.muted)
        self.set_font("sans", "", 7.5)
        width = self.w - 2 * MARGIN
        text = self.footer_text
        if text and "\n" not in text and self.get_string_width(text) <= width - 33:
            self.cell(width - 30, 3.4, text, align="L")
        elif text:
            lines = wrapped(self, width - 30, 3.4, text)
            text = "\n".join(lines[:3])
            if len(lines) > 3:
                text = text.rstrip() + "…"
            top = self.get_y()
            self.multi_cell(width - 30, 3.4, text, align="L")
            self.set_xy(self.w - MARGIN - 30, top)
        else:
            self.cell(width - 30, 3.4, self.number, align="L")
        self.cell(30, 3.4, f"Page {self.page_no()} of {{nb}}", align="R")


class _Renderer:
    def __init__(self, document: dict[str, Any], style: Style) -> None:
        self.doc = document
        self.style = style
        self.currency = _clean(document.get("currency")) or "USD"
        self.client = document.get("client") or {}
        self.business = document.get("business") or {}
        texts = list(_texts(document))
        cjk = any(_CJK.search(t) for t in texts)
        world = any(_BEYOND_CORE.search(t) for t in texts)
        hangul = any(_HANGUL.search(t) for t in texts)
        self.pdf = InvoicePDF(style, document, world, cjk, hangul)
        if any(_RTL.search(t) for t in texts):
            self.pdf.set_text_shaping(True)
        self.width = self.pdf.w - 2 * MARGIN

    # helpers -------------------------------------------------------------------------

    def money(self, value: Any, *, exact: bool = False) -> str:
        return format_money(_decimal(value), self.currency, exact=exact)

    def font(
        self, size: float | None = None, bold: bool = False, color: Color | None = None
    ) -> None:
        self.pdf.set_font("sans", "B" if bold else "", size or self.style.base_size)
        self.pdf.set_text_color(*(color or self.style.text))

    def label(self, text: str) -> str:
        return text.upper() if self.style.uppercase_labels else text

    def fits(self, text: str, width: float) -> bool:
        """Whether ``text`` is one line in ``width`` (fpdf2's line breaking costs
        O(n²) in a line's length: short texts skip it)."""
        pdf = self.pdf
        return "\n" not in text and pdf.get_string_width(text) <= width - 2 * pdf.c_margin

    def count_lines(self, text: str, width: float, height: float) -> int:
        if self.fits(text, width):
            return 1
        pdf = self.pdf
        return len(wrapped(pdf, width, height, text))

    def lines(self, width: float, height: float, text: str, align: str = "L") -> None:
        """A paragraph at the current x, moving down."""
        if not text:
            return
        pdf = self.pdf
        x = pdf.get_x()
        for line in text.split("\n"):
            if self.fits(line, width):
                pdf.cell(width, height, line, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
            else:
                pdf.multi_cell(width, height, line, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
            pdf.set_x(x)

    # the parts -----------------------------------------------------------------------

    def business_lines(self) -> list[str]:
        b = self.business
        lines = [_clean(line) for line in b.get("address_lines") or []]
        contacts = " · ".join(
            _clean(b.get(k)) for k in ("business_email", "business_phone", "website") if b.get(k)
        )
        if contacts:
            lines.append(contacts)
        if b.get("tax_id"):
            lines.append(f"Tax ID: {_clean(b.get('tax_id'))}")
        return [line for line in lines if line]

    def header(self) -> None:
        pdf, style = self.pdf, self.style
        name = _clean(self.business.get("name")) or "Invoice"
        details = self.business_lines()
        logo = _logo(self.business.get("company_logo_url"))
        left = MARGIN + (3 if style.side_strip else 0)
        title_width = 62.0
        block = self.width - title_width - 4
        top = MARGIN - (4 if style.header_band else 0)
        # The band holds the logo, the name (6.75 mm a line), a gap and the
        # details, with 7 mm below them.
        self.font(15, True)
        name_lines = self.count_lines(name, block, 6.75)
        band = top + (16 if logo else 0) + 6.75 * name_lines + 1 + 3.8 * len(details) + 7
        band = max(40.0, band)
        if style.header_band:
            pdf.set_fill_color(*style.accent)
            pdf.rect(0, 0, pdf.w, band, style="F")
            name_color: Color = (255, 255, 255)
            detail_color: Color = (210, 220, 235)
        else:
            name_color, detail_color = style.text, style.muted
        pdf.set_xy(left, top)
        if logo is not None:
            try:
                info = pdf.image(logo, x=left, y=top, h=14)
                pdf.set_xy(left, top + 16)
                del info
            except Exception:  # an image fpdf2 cannot embed: no logo
                pdf.set_xy(left, top)
        if style.name == "modern":
            # Modern: the title is the heading; the business sits on the right.
            self.font(26, True, style.accent)
            pdf.set_xy(left, top + (16 if logo is not None else 0))
            pdf.cell(block, 11, style.title, new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.font(10, False, style.muted)
            pdf.cell(block, 5, self.number_text(), new_x=XPos.LEFT, new_y=YPos.NEXT)
            bottom = pdf.get_y()
            pdf.set_xy(pdf.w - MARGIN - 90, top + 1)
            self.font(12, True)
            self.lines(90, 5.5, name, align="R")
            self.font(8.5, False, style.muted)
            self.lines(90, 3.8, "\n".join(details), align="R")
            pdf.set_y(max(bottom, pdf.get_y()) + 8)
            return
        size = 15 if style.header_band else 13
        self.font(size, style.header_band, name_color)
        self.lines(block, size * 0.45, name)
        self.font(8.5, False, detail_color)
        pdf.ln(1)
        self.lines(block, 3.8, "\n".join(details))
        bottom = pdf.get_y()
        right = pdf.w - MARGIN - title_width
        pdf.set_xy(right, top)
        if style.header_band:
            self.font(22, True, name_color)
            pdf.cell(title_width, 10, style.title, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.font(10, False, detail_color)
        else:
            self.font(13, False, style.text)
            pdf.cell(title_width, 6.5, style.title, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.font(9, False, style.muted)
        pdf.cell(title_width, 5, self.number_text(), align="R")
        if style.header_band:
            pdf.set_y(band + 8)
        else:
            pdf.set_y(max(bottom, top + 12) + 4)
            pdf.set_draw_color(*style.rule)
            pdf.set_line_width(0.2)
            pdf.line(MARGIN, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())
            pdf.ln(6)

    def number_text(self) -> str:
        return f"No. {_clean(self.doc.get('invoice_number'))}"

    def parties(self) -> None:
        pdf, style = self.pdf, self.style
        top = pdf.get_y()
        left = MARGIN + (3 if style.side_strip else 0)
        client_width = 88.0
        pdf.set_xy(left, top)
        self.font(7.5, True, style.muted)
        pdf.cell(client_width, 4.5, self.label("Bill to"), new_x=XPos.LEFT, new_y=YPos.NEXT)
        c = self.client
        self.font(11, True)
        self.lines(client_width, 5.2, _clean(c.get("company_name")))
        self.font(self.style.base_size, False)
        block = [_clean(c.get("contact_person")), _clean(c.get("address"))]
        block += [_clean(c.get("email")), _clean(c.get("phone"))]
        self.lines(client_width, 4.4, "\n".join(part for part in block if part))
        client_bottom = pdf.get_y()

        # The invoice's facts, label and value, on the right.
        facts = [
            ("Invoice number", _clean(self.doc.get("invoice_number"))),
            ("Issue date", _date(self.doc.get("issue_date"))),
            ("Due date", _date(self.doc.get("due_date"))),
            ("Payment terms", _terms(self.doc.get("payment_terms"))),
        ]
        status = _clean(self.doc.get("status"))
        if status in ("paid", "overdue", "cancelled"):
            facts.append(("Status", status.capitalize()))
        label_w, value_w = 34.0, 40.0
        x = pdf.w - MARGIN - label_w - value_w
        pdf.set_xy(x, top)
        for key, value in facts:
            self.font(8.5, False, style.muted)
            pdf.cell(label_w, 5, key)
            self.font(8.5, key == "Invoice number")
            pdf.cell(value_w, 5, value, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
            pdf.set_x(x)
        balance = self.money(self.doc.get("balance_due"))
        pdf.ln(1.5)
        pdf.set_x(x)
        if style.balance_box:
            pdf.set_fill_color(*style.accent)
            self.font(9, True, (255, 255, 255))
            pdf.cell(label_w, 9, " Balance due", fill=True)
            self.font(12, True, (255, 255, 255))
            pdf.cell(value_w, 9, balance, align="R", fill=True, new_x=XPos.LEFT, new_y=YPos.NEXT)
        else:
            pdf.set_draw_color(*style.text)
            pdf.set_line_width(0.3)
            pdf.line(x, pdf.get_y(), x + label_w + value_w, pdf.get_y())
            pdf.ln(1)
            pdf.set_x(x)
            self.font(9, True)
            pdf.cell(label_w, 6, "Balance due")
            pdf.cell(value_w, 6, balance, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_y(max(client_bottom, pdf.get_y()) + 8)

    # The items table -------------------------------------------------------------

    def columns(self) -> list[tuple[str, float, str]]:
        left = MARGIN + (3 if self.style.side_strip else 0)
        total = self.pdf.w - MARGIN - left
        qty, rate, amount = 20.0, 32.0, 34.0
        return [
            ("Description", total - qty - rate - amount, "L"),
            ("Qty", qty, "R"),
            ("Rate", rate, "R"),
            ("Amount", amount, "R"),
        ]

    def table_header(self) -> None:
        pdf, style = self.pdf, self.style
        left = MARGIN + (3 if style.side_strip else 0)
        pdf.set_x(left)
        fill = style.table_header_fill is not None
        if style.table_header_fill is not None:
            pdf.set_fill_color(*style.table_header_fill)
        self.font(8, True, style.table_header_text)
        for title, width, align in self.columns():
            pdf.cell(width, 7.5, self.label(title), align=align, fill=fill)
        pdf.ln(7.5)
        if not fill:
            pdf.set_draw_color(*(style.accent if style.name == "modern" else style.rule))
            pdf.set_line_width(0.4 if style.name == "modern" else 0.2)
            pdf.line(left, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())
        pdf.ln(1)

    def items(self) -> None:
        pdf, style = self.pdf, self.style
        left = MARGIN + (3 if style.side_strip else 0)
        columns = self.columns()
        line_h, pad = 4.4, 1.6
        self.table_header()
        for index, item in enumerate(self.doc.get("items") or []):
            self.font()
            description = _clean(item.get("description")) or "—"
            height = self.count_lines(description, columns[0][1], line_h) * line_h + 2 * pad
            if pdf.will_page_break(height):
                pdf.add_page()
                self.table_header()
                self.font()
            y = pdf.get_y()
            if style.zebra is not None and index % 2 == 1:
                pdf.set_fill_color(*style.zebra)
                pdf.rect(left, y, pdf.w - MARGIN - left, height, style="F")
            pdf.set_xy(left, y + pad)
            self.lines(columns[0][1], line_h, description)
            x = left + columns[0][1]
            values = (
                _number(item.get("quantity")),
                self.money(item.get("rate"), exact=True),
                self.money(item.get("amount")),
            )
            for (_, width, align), value in zip(columns[1:], values, strict=True):
                pdf.set_xy(x, y + pad)
                pdf.cell(width, line_h, value, align=align)
                x += width
            pdf.set_y(y + height)
            if style.zebra is None:
                pdf.set_draw_color(*style.rule)
                pdf.set_line_width(0.1)
                pdf.line(left, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())
        pdf.ln(4)

    def totals(self) -> None:
        pdf, style, doc = self.pdf, self.style, self.doc
        tax_label = _clean(self.business.get("tax_label")) or "Tax"
        rows: list[tuple[str, str, bool]] = [("Subtotal", self.money(doc.get("subtotal")), False)]
        discount = _decimal(doc.get("discount"))
        if discount:
            rows.append(("Discount", self.money(-discount), False))
        tax_rate = _decimal(doc.get("tax_rate"))
        tax_amount = _decimal(doc.get("tax_amount"))
        if tax_rate or tax_amount:
            rows.append((f"{tax_label} ({_number(tax_rate)}%)", self.money(tax_amount), False))
        rows.append(("Total", self.money(doc.get("total_amount")), True))
        paid = _decimal(doc.get("amount_paid"))
        if paid:
            rows.append(("Amount paid", self.money(-paid), False))
        rows.append(("Balance due", self.money(doc.get("balance_due")), True))
        row_h = 6.2
        height = row_h * len(rows) + 6
        if pdf.will_page_break(height):
            pdf.add_page()
        label_w, value_w = 50.0, 40.0
        x = pdf.w - MARGIN - label_w - value_w
        for label, value, strong in rows:
            pdf.set_x(x)
            last = label == "Balance due"
            if last and style.balance_box:
                pdf.set_fill_color(*style.accent)
                self.font(10, True, (255, 255, 255))
                pdf.cell(label_w, row_h + 1.5, f" {label}", fill=True)
                pdf.cell(value_w, row_h + 1.5, value, align="R", fill=True)
                pdf.ln(row_h + 1.5)
                continue
            if label == "Total":
                pdf.set_draw_color(*style.text)
                pdf.set_line_width(0.3)
                pdf.line(x, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())
            self.font(self.style.base_size + (0.5 if strong else 0), strong)
            pdf.cell(label_w, row_h, label)
            pdf.cell(value_w, row_h, value, align="R")
            pdf.ln(row_h)
        pdf.ln(6)

    def notes(self) -> None:
        pdf, style = self.pdf, self.style
        left = MARGIN + (3 if style.side_strip else 0)
        width = pdf.w - MARGIN - left
        sections = [
            ("Notes", _clean(self.doc.get("notes"))),
            ("Terms", _clean(self.doc.get("terms"))),
            (
                "Payment instructions",
                _clean(self.doc.get("payment_instructions"))
                or _clean(self.business.get("default_payment_instructions")),
            ),
        ]
        for title, text in sections:
            if not text:
                continue
            if pdf.will_page_break(14):
                pdf.add_page()
            pdf.set_x(left)
            self.font(8, True, style.accent if style.name != "minimal" else style.muted)
            pdf.cell(width, 5, self.label(title), new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.font(self.style.base_size - 0.5, False)
            pdf.set_x(left)
            self.lines(width, 4.2, text)
            pdf.ln(4)

    def render(self) -> bytes:
        pdf = self.pdf
        doc = self.doc
        number = _clean(doc.get("invoice_number"))
        business = _clean(self.business.get("name"))
        pdf.set_title(f"Invoice {number}")
        pdf.set_subject(f"Invoice {number} for {_clean(self.client.get('company_name'))}")
        if business:
            pdf.set_author(business)
            pdf.set_creator(business)
        pdf.set_producer("InvoiceFlow")
        pdf.set_creation_date(_creation_date(doc))
        pdf.alias_nb_pages()
        pdf.add_page()
        self.header()
        self.parties()
        self.items()
        self.totals()
        self.notes()
        return bytes(pdf.output())


def render_invoice_pdf(document: dict[str, Any], template: str | None = None) -> bytes:
    """The PDF of an invoice document (`shared.documents.load_invoice_document`) in
    ``template``, by default the invoice's own (``professional`` when unknown)."""
    name = template or _clean(document.get("template")) or DEFAULT_TEMPLATE
    if template is not None and template not in STYLES:
        raise ValueError(f"unknown template {template!r}; one of {', '.join(TEMPLATES)}")
    style = STYLES.get(name, STYLES[DEFAULT_TEMPLATE])
    return _Renderer(document, style).render()
