"""The PDF of an invoice, a quote or a credit note: one layout engine, three templates,
three document kinds, drawn on reportlab's canvas.

Kinds (`KINDS`, ``render_document_pdf(document, kind, template)``): what differs between
an invoice, a quote and a credit note is their title, their number's label and key, the
facts printed beside the client, the amount in the box and the last rows of the totals,
the text sections and the watermarks; the layout is the same. The document is the kind's
document (`shared.documents`): the same keys as an invoice's (``issue_date``,
``currency``, ``subtotal``, ``discount``, ``tax_rate``, ``tax_amount``, ``total_amount``,
``notes``, ``terms``, ``template``, ``status``, ``items``, ``client``, ``business``), plus

- ``invoice``: ``invoice_number``, ``due_date``, ``payment_terms``, ``amount_paid``,
  ``balance_due``, ``payment_instructions``;
- ``quote``: ``quote_number``, ``valid_until`` (printed "Valid until"); the box holds the
  total;
- ``credit_note``: ``credit_note_number``, ``credited_invoice_number`` (the invoice it
  credits, printed "Credits invoice <number>"), ``reason``; the box holds the total credited.

An invoice's PDF is the same, byte for byte, as before the kinds were added.

The tax model (docs/einvoicing.md, "Tax model"): a document whose ``tax_breakdown`` has
more than one group (category and rate) prints each line's rate in a "Tax" column, one
total tax row, and a breakdown table under the totals (category, rate, net, discount,
taxable amount, tax); a group of an exempt, reverse-charge, intra-community, export or
outside-scope category prints its mention and exemption reason ("Reverse charge", the
reason's text or VATEX code) under the totals, with one group too. A document with one
standard-rated group prints as before, byte for byte.

Layout, top to bottom: the business (logo, name, address, contacts, tax id) and
the title; the client ("Bill to") beside the invoice's number, dates, terms and
balance due; the items table (it flows over pages and repeats its header row);
the totals (subtotal, discount, tax with its label, total, amount paid, balance
due) kept together on the last page; notes, terms and payment instructions. Each
page has the business's footer and "Page n of N"; drafts and cancelled invoices
carry a watermark.

How: `_Layout` lays the document out in millimetres from the top-left corner,
with the cell model of the earlier fpdf2 renderer (a cell is a box of a width
and a height, its text vertically centred and 1.5 mm in from its sides), and
records per page the shapes and the texts; `_Layout.draw` then writes them on a
reportlab canvas, the page decorations (side strip, watermark, "continued"
line, footer with "Page n of N") included now that the page count is known. All
texts of a page go into one text object (a tenth less time than one per text).

The fonts and the text shaping (CJK, Korean, Arabic, right-to-left) are
`shared.pdf.text`'s, which the report export's PDF uses too.

Output is deterministic: reportlab's invariant mode (fixed file id, no
timestamps), the creation date printed as the invoice's issue date.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from shared.formatting import format_date, format_money
from shared.pdf.text import PT, Face, Fonts

TEMPLATES = ("professional", "modern", "minimal")
DEFAULT_TEMPLATE = "professional"

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
class Kind:
    """What a document kind prints where the layout leaves room for it."""

    name: str  # invoice | quote | credit_note
    title: str  # the heading (upper case in templates whose title is)
    number_key: str  # the document's key holding its number
    number_label: str
    bill_to: str  # the label above the client
    # The facts beside the client after the number: (label, document key); a key of
    # "payment_terms" is printed as terms ("Net 30 days").
    facts: tuple[tuple[str, str], ...]
    statuses_shown: tuple[str, ...]  # statuses printed as a fact
    box: tuple[str, str]  # the boxed amount beside the client: (label, document key)
    # After "Total" in the totals: (label, document key, shown as a negative), the last
    # row boxed; none: "Total" is the last row, boxed.
    after_total: tuple[tuple[str, str, bool], ...]
    sections: tuple[tuple[str, str], ...]  # (title, document key) below the totals
    watermarks: dict[str, str]  # status -> the word across each page
    text_keys: tuple[str, ...]  # the document's own texts (to choose the fonts)


INVOICE = Kind(
    name="invoice",
    title="Invoice",
    number_key="invoice_number",
    number_label="Invoice number",
    bill_to="Bill to",
    facts=(
        ("Issue date", "issue_date"),
        ("Due date", "due_date"),
        ("Payment terms", "payment_terms"),
    ),
    statuses_shown=("paid", "overdue", "cancelled"),
    box=("Balance due", "balance_due"),
    after_total=(
        ("Amount paid", "amount_paid", True),
        # Credit notes and client credit applied (shown only when there are some).
        ("Credited", "amount_credited", True),
        ("Balance due", "balance_due", False),
    ),
    sections=(
        ("Notes", "notes"),
        ("Terms", "terms"),
        ("Payment instructions", "payment_instructions"),
    ),
    watermarks={"draft": "DRAFT", "cancelled": "CANCELLED"},
    text_keys=("invoice_number", "notes", "terms", "payment_instructions"),
)
QUOTE = Kind(
    name="quote",
    title="Quote",
    number_key="quote_number",
    number_label="Quote number",
    bill_to="Prepared for",
    facts=(("Issue date", "issue_date"), ("Valid until", "valid_until")),
    statuses_shown=("accepted", "declined", "expired", "converted"),
    box=("Total", "total_amount"),
    after_total=(),
    sections=(("Notes", "notes"), ("Terms", "terms")),
    watermarks={"draft": "DRAFT", "declined": "DECLINED", "expired": "EXPIRED"},
    text_keys=("quote_number", "notes", "terms"),
)
CREDIT_NOTE = Kind(
    name="credit_note",
    title="Credit note",
    number_key="credit_note_number",
    number_label="Credit note number",
    bill_to="Credit to",
    facts=(("Issue date", "issue_date"), ("Credits invoice", "credited_invoice_number")),
    statuses_shown=(),
    box=("Total credited", "total_amount"),
    after_total=(),
    sections=(("Reason", "reason"), ("Notes", "notes")),
    watermarks={"draft": "DRAFT", "void": "VOID", "cancelled": "CANCELLED"},
    text_keys=("credit_note_number", "credited_invoice_number", "reason", "notes"),
)
KINDS: dict[str, Kind] = {kind.name: kind for kind in (INVOICE, QUOTE, CREDIT_NOTE)}


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

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
MARGIN = 16.0
BOTTOM = 24.0  # the footer's room
C_MARGIN = 1.5  # a cell's text is this far in from its sides
WHITE: Color = (255, 255, 255)


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
    """The logo as a PIL image (RGB or RGBA) from a ``data:image/...;base64,`` URL,
    else ``None``. Anything odd (another scheme, too big, not an image) is skipped,
    never raised."""
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
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            return image.convert("RGBA" if alpha else "RGB")
    except Exception:  # a broken logo leaves the invoice without one
        return None


# The mention printed for a category (UNCL5305) in the breakdown and beside its reason.
CATEGORY_NAMES = {
    "S": "Standard rate",
    "Z": "Zero rated",
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Outside the scope of VAT",
    "L": "IGIC (Canary Islands)",
    "M": "IPSI (Ceuta and Melilla)",
}
EXEMPT = ("E", "AE", "K", "G", "O")


def _groups(document: dict[str, Any]) -> list[dict[str, Any]]:
    groups = document.get("tax_breakdown")
    return [g for g in groups if isinstance(g, dict)] if isinstance(groups, list) else []


def tax_mentions(document: dict[str, Any]) -> list[str]:
    """The lines a document prints about its exempt groups: "Reverse charge" (and the
    reason when it says more), else the category's name and the reason or code."""
    mentions = []
    for group in _groups(document):
        category = _clean(group.get("vat_category"))
        reason = _clean(group.get("tax_exemption_reason"))
        code = _clean(group.get("tax_exemption_reason_code"))
        if category not in EXEMPT and not reason and not code:
            continue
        name = CATEGORY_NAMES.get(category, category)
        detail = reason or code
        if detail and detail.casefold() != name.casefold():
            mentions.append(f"{name}: {detail}")
        else:
            mentions.append(name)
    return list(dict.fromkeys(mentions))


def _texts(document: dict[str, Any], kind: Kind = INVOICE) -> Iterable[str]:
    """Every text the document prints (to choose fonts and shaping)."""
    yield from tax_mentions(document)
    for key in kind.text_keys:
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


# The layout -----------------------------------------------------------------------


@dataclass
class Text:
    x: float  # mm from the left
    y: float  # the baseline, mm from the top
    size: float  # pt
    color: Color
    runs: list[tuple[Face, str]]


@dataclass
class Page:
    shapes: list[tuple[Any, ...]] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


class _Layout:
    """A cursor over A4 pages in mm from the top left, with cells as in fpdf2."""

    def __init__(self, fonts: Fonts, base_size: float, color: Color) -> None:
        self.fonts = fonts
        self.pages: list[Page] = []
        self.x = self.y = MARGIN
        self.size, self.bold, self.color = base_size, False, color
        self.trigger = PAGE_H - BOTTOM

    @property
    def page(self) -> Page:
        return self.pages[-1]

    def add_page(self, *, keep_x: bool = False) -> None:
        x = self.x
        self.pages.append(Page())
        self.x, self.y = (x if keep_x else MARGIN), MARGIN

    def will_page_break(self, height: float) -> bool:
        return self.y + height > self.trigger

    def set_font(self, size: float, bold: bool, color: Color) -> None:
        self.size, self.bold, self.color = size, bold, color

    def set_xy(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def set_y(self, y: float) -> None:
        self.x, self.y = MARGIN, y

    def ln(self, height: float) -> None:
        self.x, self.y = MARGIN, self.y + height

    def width(self, text: str) -> float:
        return self.fonts.width(text, self.size, self.bold)

    def rect(self, x: float, y: float, w: float, h: float, color: Color) -> None:
        self.page.shapes.append(("rect", x, y, w, h, color))

    def line(self, x1: float, y: float, x2: float, color: Color, width: float) -> None:
        self.page.shapes.append(("line", x1, y, x2, color, width))

    def text(self, x: float, baseline: float, text: str) -> None:
        """``text`` (shaped, one line) with its left end at ``x``."""
        runs = self.fonts.runs(self.fonts.visual(text), self.bold)
        self.page.texts.append(Text(x, baseline, self.size, self.color, runs))

    def cell(
        self,
        w: float,
        h: float,
        text: str = "",
        align: str = "L",
        *,
        fill: Color | None = None,
        down: bool = False,
    ) -> None:
        """A box of ``w`` x ``h`` at the cursor (``w`` 0: to the right margin); the
        cursor moves right, or down (``down``: x stays). A page break first if the
        box does not fit above the footer."""
        if self.will_page_break(h):
            self.add_page(keep_x=True)
        if w == 0:
            w = PAGE_W - MARGIN - self.x
        if fill is not None:
            self.rect(self.x, self.y, w, h, fill)
        if text:
            shaped = self.fonts.logical(text)
            baseline = self.y + 0.5 * h + 0.3 * self.size / PT
            x = self.x + C_MARGIN
            if align == "R":
                x = self.x + w - C_MARGIN - self.width(shaped)
            self.text(x, baseline, shaped)
        if down:
            self.y += h
        else:
            self.x += w

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` (one paragraph, shaped) broken into lines that fit a cell of
        ``width``: at spaces, and inside a word longer than a line."""
        room = width - 2 * C_MARGIN
        if self.width(text) <= room:
            return [text]
        space = self.width(" ")
        lines: list[str] = []
        current, used = "", 0.0
        for piece in text.split(" "):
            word, size = piece, self.width(piece)
            if current and used + space + size <= room:
                current, used = f"{current} {word}", used + space + size
                continue
            if current:
                lines.append(current)
            while size > room and len(word) > 1:
                cut = self._fitting(word, room)
                lines.append(word[:cut])
                word = word[cut:]
                size = self.width(word)
            current, used = word, size
        lines.append(current)
        return lines

    def _fitting(self, word: str, room: float) -> int:
        """How many leading characters of ``word`` fit in ``room`` (at least one)."""
        low, high = 1, len(word)
        while low < high:
            middle = (low + high + 1) // 2
            if self.width(word[:middle]) <= room:
                low = middle
            else:
                high = middle - 1
        return low

    def paragraph_lines(self, text: str, width: float) -> list[str]:
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(self.wrap(self.fonts.logical(paragraph), width))
        return lines

    def lines(self, width: float, height: float, text: str, align: str = "L") -> None:
        """A paragraph at the current x, moving down (over pages if need be)."""
        if not text:
            return
        x = self.x
        for line in self.paragraph_lines(text, width):
            self.x = x
            self.text_cell(width, height, line, align)
            self.y += height
        self.x = x

    def text_cell(self, w: float, h: float, line: str, align: str) -> None:
        if self.will_page_break(h):
            self.add_page(keep_x=True)
        if line:
            baseline = self.y + 0.5 * h + 0.3 * self.size / PT
            x = self.x + w - C_MARGIN - self.width(line) if align == "R" else self.x + C_MARGIN
            self.text(x, baseline, line)

    def image(self, image: Any, x: float, y: float, h: float, max_w: float) -> None:
        width, height = image.size
        w = h * width / height
        if w > max_w:
            w, h = max_w, max_w * height / width
        self.page.shapes.append(("image", image, x, y, w, h))


# Drawing --------------------------------------------------------------------------


def _rgb(color: Color) -> tuple[float, float, float]:
    return color[0] / 255, color[1] / 255, color[2] / 255


class _Painter:
    """Writes a `_Layout`'s pages on a reportlab canvas (mm top-down -> pt bottom-up)."""

    def __init__(self, canvas: Any) -> None:
        self.c = canvas
        self.images: dict[int, Any] = {}

    def shapes(self, shapes: list[tuple[Any, ...]]) -> None:
        c = self.c
        fill: Color | None = None
        stroke: tuple[Color, float] | None = None
        for shape in shapes:
            kind = shape[0]
            if kind == "rect":
                _, x, y, w, h, color = shape
                if color != fill:
                    c.setFillColorRGB(*_rgb(color))
                    fill = color
                c.rect(x * PT, (PAGE_H - y - h) * PT, w * PT, h * PT, stroke=0, fill=1)
            elif kind == "line":
                _, x1, y, x2, color, width = shape
                if (color, width) != stroke:
                    c.setStrokeColorRGB(*_rgb(color))
                    c.setLineWidth(width * PT)
                    stroke = (color, width)
                c.line(x1 * PT, (PAGE_H - y) * PT, x2 * PT, (PAGE_H - y) * PT)
            elif kind == "image":
                _, image, x, y, w, h = shape
                self.image(image, x, y, w, h)

    def image(self, image: Any, x: float, y: float, w: float, h: float) -> None:
        from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            reader = self.images.setdefault(id(image), ImageReader(image))
            mask = "auto" if image.mode == "RGBA" else None
            self.c.drawImage(reader, x * PT, (PAGE_H - y - h) * PT, w * PT, h * PT, mask=mask)
        except Exception:  # an image reportlab cannot embed: no logo
            return

    def texts(self, texts: list[Text]) -> None:
        if not texts:
            return
        t = self.c.beginText()
        font: tuple[str, float] | None = None
        color: Color | None = None
        for text in texts:
            if text.color != color:
                t.setFillColorRGB(*_rgb(text.color))
                color = text.color
            t.setTextOrigin(text.x * PT, (PAGE_H - text.y) * PT)
            for face, part in text.runs:
                if (face.name, text.size) != font:
                    t.setFont(face.name, text.size)
                    font = (face.name, text.size)
                t.textOut(part)
        self.c.drawText(t)


class _Renderer:
    def __init__(self, document: dict[str, Any], style: Style, kind: Kind = INVOICE) -> None:
        self.doc = document
        self.style = style
        self.kind = kind
        self.title = kind.title.upper() if style.title.isupper() else kind.title
        self.currency = _clean(document.get("currency")) or "USD"
        self.client = document.get("client") or {}
        self.business = document.get("business") or {}
        self.number = _clean(document.get(kind.number_key))
        self.fonts = Fonts.of(list(_texts(document, kind)))
        self.pdf = _Layout(self.fonts, style.base_size, style.text)
        self.left = MARGIN + (3 if style.side_strip else 0)
        self.width = PAGE_W - 2 * MARGIN

    # helpers -------------------------------------------------------------------------

    def money(self, value: Any, *, exact: bool = False) -> str:
        return format_money(_decimal(value), self.currency, exact=exact)

    def font(
        self, size: float | None = None, bold: bool = False, color: Color | None = None
    ) -> None:
        self.pdf.set_font(size or self.style.base_size, bold, color or self.style.text)

    def label(self, text: str) -> str:
        return text.upper() if self.style.uppercase_labels else text

    def count_lines(self, text: str, width: float) -> int:
        return len(self.pdf.paragraph_lines(text, width))

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

    def header(self) -> None:  # noqa: PLR0915 (three headers, one place)
        pdf, style = self.pdf, self.style
        name = _clean(self.business.get("name")) or self.kind.title
        details = self.business_lines()
        logo = _logo(self.business.get("company_logo_url"))
        left = self.left
        title_width = 62.0
        block = self.width - title_width - 4
        top = MARGIN - (4 if style.header_band else 0)
        logo_room = 16 if logo is not None else 0
        if style.name == "modern":
            # Modern: the title is the heading; the business sits on the right.
            if logo is not None:
                pdf.image(logo, left, top, 14, block)
            self.font(26, True, style.accent)
            pdf.set_xy(left, top + logo_room)
            pdf.cell(block, 11, self.title, down=True)
            self.font(10, False, style.muted)
            pdf.cell(block, 5, self.number_text(), down=True)
            bottom = pdf.y
            pdf.set_xy(PAGE_W - MARGIN - 90, top + 1)
            self.font(12, True)
            pdf.lines(90, 5.5, name, align="R")
            self.font(8.5, False, style.muted)
            pdf.lines(90, 3.8, "\n".join(details), align="R")
            pdf.set_y(max(bottom, pdf.y) + 8)
            return
        # The band holds the logo, the name (6.75 mm a line), a gap and the
        # details, with 7 mm below them.
        self.font(15, True)
        name_lines = self.count_lines(name, block)
        band = max(40.0, top + logo_room + 6.75 * name_lines + 1 + 3.8 * len(details) + 7)
        if style.header_band:
            pdf.rect(0, 0, PAGE_W, band, style.accent)
            name_color, detail_color = WHITE, (210, 220, 235)
        else:
            name_color, detail_color = style.text, style.muted
        if logo is not None:  # over the band
            pdf.image(logo, left, top, 14, block)
        size = 15 if style.header_band else 13
        self.font(size, style.header_band, name_color)
        pdf.set_xy(left, top + logo_room)
        pdf.lines(block, size * 0.45, name)
        pdf.y += 1
        self.font(8.5, False, detail_color)
        pdf.lines(block, 3.8, "\n".join(details))
        bottom = pdf.y
        right = PAGE_W - MARGIN - title_width
        pdf.set_xy(right, top)
        if style.header_band:
            self.font(22, True, name_color)
            pdf.cell(title_width, 10, self.title, align="R", down=True)
            self.font(10, False, detail_color)
        else:
            self.font(13, False, style.text)
            pdf.cell(title_width, 6.5, self.title, align="R", down=True)
            self.font(9, False, style.muted)
        pdf.cell(title_width, 5, self.number_text(), align="R")
        if style.header_band:
            pdf.set_y(band + 8)
        else:
            pdf.set_y(max(bottom, top + 12) + 4)
            pdf.line(MARGIN, pdf.y, PAGE_W - MARGIN, style.rule, 0.2)
            pdf.ln(6)

    def number_text(self) -> str:
        return f"No. {self.number}"

    def parties(self) -> None:
        pdf, style = self.pdf, self.style
        top = pdf.y
        client_width = 88.0
        pdf.set_xy(self.left, top)
        self.font(7.5, True, style.muted)
        pdf.cell(client_width, 4.5, self.label(self.kind.bill_to), down=True)
        c = self.client
        self.font(11, True)
        pdf.lines(client_width, 5.2, _clean(c.get("company_name")))
        self.font()
        block = [_clean(c.get(k)) for k in ("contact_person", "address", "email", "phone")]
        pdf.lines(client_width, 4.4, "\n".join(part for part in block if part))
        client_bottom = pdf.y

        # The document's facts, label and value, on the right.
        kind = self.kind
        facts = [(kind.number_label, self.number)]
        for label, key in kind.facts:
            value = self.doc.get(key)
            if key == "payment_terms":
                facts.append((label, _terms(value)))
            elif key.endswith("_date") or key == "valid_until":
                facts.append((label, _date(value)))
            else:
                facts.append((label, _clean(value)))
        status = _clean(self.doc.get("status"))
        if status in kind.statuses_shown:
            facts.append(("Status", status.capitalize()))
        label_w, value_w = 34.0, 40.0
        x = PAGE_W - MARGIN - label_w - value_w
        pdf.set_xy(x, top)
        for key, value in facts:
            self.font(8.5, False, style.muted)
            pdf.cell(label_w, 5, key)
            self.font(8.5, key == kind.number_label)
            pdf.cell(value_w, 5, value, align="R", down=True)
            pdf.x = x
        box_label, box_key = kind.box
        balance = self.money(self.doc.get(box_key))
        pdf.set_xy(x, pdf.y + 1.5)
        if style.balance_box:
            self.font(9, True, WHITE)
            pdf.cell(label_w, 9, f" {box_label}", fill=style.accent)
            self.font(12, True, WHITE)
            pdf.cell(value_w, 9, balance, align="R", fill=style.accent, down=True)
        else:
            pdf.line(x, pdf.y, x + label_w + value_w, style.text, 0.3)
            pdf.set_xy(x, pdf.y + 1)
            self.font(9, True)
            pdf.cell(label_w, 6, box_label)
            pdf.cell(value_w, 6, balance, align="R", down=True)
        pdf.set_y(max(client_bottom, pdf.y) + 8)

    # The items table -------------------------------------------------------------

    def columns(self) -> list[tuple[str, float, str]]:
        total = PAGE_W - MARGIN - self.left
        qty, rate, amount = 20.0, 32.0, 34.0
        if len(_groups(self.doc)) > 1:
            tax = 16.0
            return [
                ("Description", total - qty - rate - tax - amount, "L"),
                ("Qty", qty, "R"),
                ("Rate", rate, "R"),
                ("Tax", tax, "R"),
                ("Amount", amount, "R"),
            ]
        return [
            ("Description", total - qty - rate - amount, "L"),
            ("Qty", qty, "R"),
            ("Rate", rate, "R"),
            ("Amount", amount, "R"),
        ]

    def table_header(self) -> None:
        pdf, style = self.pdf, self.style
        pdf.x = self.left
        self.font(8, True, style.table_header_text)
        for title, width, align in self.columns():
            pdf.cell(width, 7.5, self.label(title), align=align, fill=style.table_header_fill)
        pdf.ln(7.5)
        if style.table_header_fill is None:
            modern = style.name == "modern"
            color = style.accent if modern else style.rule
            pdf.line(self.left, pdf.y, PAGE_W - MARGIN, color, 0.4 if modern else 0.2)
        pdf.ln(1)

    def items(self) -> None:
        pdf, style = self.pdf, self.style
        left = self.left
        columns = self.columns()
        line_h, pad = 4.4, 1.6
        self.table_header()
        for index, item in enumerate(self.doc.get("items") or []):
            self.font()
            description = _clean(item.get("description")) or "—"
            lines = pdf.paragraph_lines(description, columns[0][1])
            height = len(lines) * line_h + 2 * pad
            if pdf.will_page_break(height):
                pdf.add_page()
                self.table_header()
                self.font()
            y = pdf.y
            if style.zebra is not None and index % 2 == 1:
                pdf.rect(left, y, PAGE_W - MARGIN - left, height, style.zebra)
            pdf.set_xy(left, y + pad)
            for line in lines:
                pdf.x = left
                pdf.text_cell(columns[0][1], line_h, line, "L")
                pdf.y += line_h
            x = left + columns[0][1]
            values: tuple[str, ...] = (
                _number(item.get("quantity")),
                self.money(item.get("rate"), exact=True),
                self.money(item.get("amount")),
            )
            if len(columns) == 5:
                values = (*values[:2], f"{_number(item.get('tax_rate'))}%", values[2])
            for (_, width, align), value in zip(columns[1:], values, strict=True):
                pdf.set_xy(x, y + pad)
                pdf.cell(width, line_h, value, align=align)
                x += width
            pdf.set_y(y + height)
            if style.zebra is None:
                pdf.line(left, pdf.y, PAGE_W - MARGIN, style.rule, 0.1)
        pdf.ln(4)

    def totals(self) -> None:
        pdf, style, doc = self.pdf, self.style, self.doc
        tax_label = _clean(self.business.get("tax_label")) or "Tax"
        rows: list[tuple[str, str, bool]] = [("Subtotal", self.money(doc.get("subtotal")), False)]
        discount = _decimal(doc.get("discount"))
        if discount:
            rows.append(("Discount", self.money(-discount), False))
        groups = _groups(doc)
        tax_rate = (
            _decimal(groups[0].get("tax_rate"))
            if len(groups) == 1
            else _decimal(doc.get("tax_rate"))
        )
        tax_amount = _decimal(doc.get("tax_amount"))
        if len(groups) > 1:
            rows.append((tax_label, self.money(tax_amount), False))
        elif tax_rate or tax_amount:
            rows.append((f"{tax_label} ({_number(tax_rate)}%)", self.money(tax_amount), False))
        rows.append(("Total", self.money(doc.get("total_amount")), True))
        for label, key, negative in self.kind.after_total:
            amount = _decimal(doc.get(key))
            if negative:  # shown only when there is some (amount paid)
                if amount:
                    rows.append((label, self.money(-amount), False))
            else:
                rows.append((label, self.money(amount), True))
        row_h = 6.2
        if pdf.will_page_break(row_h * len(rows) + 6):
            pdf.add_page()
        label_w, value_w = 50.0, 40.0
        x = PAGE_W - MARGIN - label_w - value_w
        for index, (label, value, strong) in enumerate(rows):
            pdf.x = x
            if index == len(rows) - 1 and style.balance_box:
                self.font(10, True, WHITE)
                pdf.cell(label_w, row_h + 1.5, f" {label}", fill=style.accent)
                pdf.cell(value_w, row_h + 1.5, value, align="R", fill=style.accent)
                pdf.ln(row_h + 1.5)
                continue
            if label == "Total":
                pdf.line(x, pdf.y, PAGE_W - MARGIN, style.text, 0.3)
            self.font(style.base_size + (0.5 if strong else 0), strong)
            pdf.cell(label_w, row_h, label)
            pdf.cell(value_w, row_h, value, align="R")
            pdf.ln(row_h)
        pdf.ln(6)

    def tax_breakdown(self) -> None:
        """The breakdown by category and rate (several groups), then the exempt groups'
        mentions and reasons."""
        pdf, style = self.pdf, self.style
        groups = _groups(self.doc)
        width = PAGE_W - MARGIN - self.left
        if len(groups) > 1:
            tax_label = _clean(self.business.get("tax_label")) or "Tax"
            numbers = 26.0
            columns = [
                ("Category", width - 5 * numbers, "L"),
                ("Rate", numbers, "R"),
                ("Net", numbers, "R"),
                ("Discount", numbers, "R"),
                ("Taxable", numbers, "R"),
                (tax_label, numbers, "R"),
            ]
            row_h = 5.4
            if pdf.will_page_break(row_h * (len(groups) + 2) + 4):
                pdf.add_page()
            pdf.x = self.left
            self.font(8, True, style.accent if style.name != "minimal" else style.muted)
            pdf.cell(width, 5, self.label(f"{tax_label} breakdown"), down=True)
            self.font(7.5, True, style.muted)
            pdf.x = self.left
            for title, w, align in columns:
                pdf.cell(w, row_h, title, align=align)
            pdf.ln(row_h)
            pdf.line(self.left, pdf.y, PAGE_W - MARGIN, style.rule, 0.2)
            self.font(style.base_size - 0.5, False)
            for group in groups:
                category = _clean(group.get("vat_category"))
                values = (
                    CATEGORY_NAMES.get(category, category),
                    f"{_number(group.get('tax_rate'))}%",
                    self.money(group.get("line_net_total")),
                    self.money(-_decimal(group.get("allowance_amount")))
                    if _decimal(group.get("allowance_amount"))
                    else "",
                    self.money(group.get("taxable_amount")),
                    self.money(group.get("tax_amount")),
                )
                pdf.x = self.left
                for (_, w, align), value in zip(columns, values, strict=True):
                    pdf.cell(w, row_h, value, align=align)
                pdf.ln(row_h)
            pdf.ln(4)
        mentions = tax_mentions(self.doc)
        if mentions:
            if pdf.will_page_break(6 * len(mentions) + 4):
                pdf.add_page()
            self.font(style.base_size - 0.5, True)
            for mention in mentions:
                pdf.x = self.left
                pdf.lines(width, 4.2, mention)
            pdf.ln(4)

    def notes(self) -> None:
        pdf, style = self.pdf, self.style
        width = PAGE_W - MARGIN - self.left
        sections = []
        for title, key in self.kind.sections:
            text = _clean(self.doc.get(key))
            if key == "payment_instructions":
                text = text or _clean(self.business.get("default_payment_instructions"))
            sections.append((title, text))
        for title, text in sections:
            if not text:
                continue
            if pdf.will_page_break(14):
                pdf.add_page()
            pdf.x = self.left
            self.font(8, True, style.accent if style.name != "minimal" else style.muted)
            pdf.cell(width, 5, self.label(title), down=True)
            self.font(style.base_size - 0.5, False)
            pdf.x = self.left
            pdf.lines(width, 4.2, text)
            pdf.ln(4)

    # page decorations, drawn once the page count is known -------------------------------

    def decorations(self, number: int, count: int) -> tuple[Page, Page]:
        """What a page has beneath its content (strip, "continued" line; the
        watermark is `watermark`'s) and over it (the footer)."""
        style, main = self.style, self.pdf
        deco = self.pdf = _Layout(self.fonts, style.base_size, style.text)
        deco.trigger = float("inf")  # nothing here breaks a page
        try:
            deco.add_page()
            if style.side_strip:
                deco.rect(0, 0, 5, PAGE_H, style.accent)
            if number > 1:
                self.font(7.5, False, style.muted)
                business = _clean(self.business.get("name"))
                deco.set_y(8)
                deco.cell(0, 4, f"{business} · {self.number} (continued)")
            deco.add_page()
            deco.set_y(PAGE_H - BOTTOM + 6)
            deco.line(MARGIN, deco.y, PAGE_W - MARGIN, style.rule, 0.2)
            deco.ln(1.5)
            self.font(7.5, False, style.muted)
            width = self.width
            text = _clean(self.business.get("invoice_footer"))
            top = deco.y
            if text:
                lines = deco.paragraph_lines(text, width - 30)
                if len(lines) > 3:
                    lines = [*lines[:2], lines[2].rstrip() + "…"]
                for line in lines:
                    deco.x = MARGIN
                    deco.text_cell(width - 30, 3.4, line, "L")
                    deco.y += 3.4
            else:
                deco.cell(width - 30, 3.4, self.number)
            deco.set_xy(PAGE_W - MARGIN - 30, top)
            deco.cell(30, 3.4, f"Page {number} of {count}", align="R")
        finally:
            self.pdf = main
        under, over = deco.pages
        return under, over

    def watermark(self, canvas: Any) -> None:
        status = _clean(self.doc.get("status"))
        text = self.kind.watermarks.get(status)
        if not text:
            return
        face = self.fonts.bold
        canvas.saveState()
        canvas.translate(PAGE_W / 2 * PT, PAGE_H / 2 * PT)
        canvas.rotate(35)
        canvas.setFillColorRGB(*_rgb((236, 236, 236)))
        canvas.setFont(face.name, 96)
        canvas.drawString(-face.width(text, 96) / 2, -12 * PT, text)
        canvas.restoreState()

    def render(self) -> bytes:
        pdf = self.pdf
        pdf.add_page()
        self.header()
        self.parties()
        self.items()
        self.totals()
        self.tax_breakdown()
        self.notes()
        pages = pdf.pages
        out = BytesIO()
        canvas = Canvas(
            out,
            pagesize=(PAGE_W * PT, PAGE_H * PT),
            invariant=1,
            pageCompression=1,
            initialFontName=self.fonts.regular.name,  # else an unused Helvetica
            initialFontSize=self.style.base_size,
        )
        day = _creation_date(self.doc)
        stamp = f"D:{day:%Y%m%d%H%M%S}+00'00'"
        canvas.setDateFormatter(lambda *_: stamp)
        client = _clean(self.client.get("company_name"))
        canvas.setTitle(f"{self.kind.title} {self.number}")
        canvas.setSubject(f"{self.kind.title} {self.number} for {client}")
        business = _clean(self.business.get("name"))
        if business:
            canvas.setAuthor(business)
            canvas.setCreator(business)
        canvas.setProducer("InvoiceFlow")
        painter = _Painter(canvas)
        for number, page in enumerate(pages, start=1):
            under, over = self.decorations(number, len(pages))
            painter.shapes(under.shapes)
            self.watermark(canvas)
            painter.texts(under.texts)
            painter.shapes(page.shapes)
            painter.texts(page.texts)
            painter.shapes(over.shapes)
            painter.texts(over.texts)
            canvas.showPage()
        canvas.save()
        return out.getvalue()


def render_document_pdf(
    document: dict[str, Any], kind: str = "invoice", template: str | None = None
) -> bytes:
    """The PDF of a document of ``kind`` (``invoice``, ``quote`` or ``credit_note``: see
    the head of this module for the keys each prints) in ``template``, by default the
    document's own (``professional`` when unknown). An unknown kind or template is a
    ``ValueError``."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; one of {', '.join(KINDS)}")
    name = template or _clean(document.get("template")) or DEFAULT_TEMPLATE
    if template is not None and template not in STYLES:
        raise ValueError(f"unknown template {template!r}; one of {', '.join(TEMPLATES)}")
    style = STYLES.get(name, STYLES[DEFAULT_TEMPLATE])
    return _Renderer(document, style, KINDS[kind]).render()


def render_invoice_pdf(document: dict[str, Any], template: str | None = None) -> bytes:
    """The PDF of an invoice document (`shared.documents.load_invoice_document`) in
    ``template``, by default the invoice's own (``professional`` when unknown)."""
    return render_document_pdf(document, "invoice", template)
