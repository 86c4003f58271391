"""The comparison: the same one-page invoice drawn with reportlab (bench/pdf.py).

Not a product renderer: the content of `shared.pdf`'s professional template (header
band, client and facts, the items table with wrapped descriptions and page breaks,
totals, notes, footer with page numbers) drawn on reportlab's canvas with the same
bundled font (InvoiceSansCore), so the two libraries do the same work.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from shared.formatting import format_date, format_money

# shared.pdf's fonts, found without importing shared.pdf (which imports fpdf2).
FONTS = Path(__file__).resolve().parents[1] / "shared" / "pdf" / "fonts"

_registered = False


def _fonts() -> None:
    global _registered  # noqa: PLW0603 - once per process, as shared.pdf would
    if not _registered:
        pdfmetrics.registerFont(TTFont("Sans", str(FONTS / "InvoiceSansCore.ttf")))
        pdfmetrics.registerFont(TTFont("Sans-Bold", str(FONTS / "InvoiceSansCore-Bold.ttf")))
        _registered = True


def render(document: dict[str, Any]) -> bytes:
    _fonts()
    out = BytesIO()
    width, height = A4
    c = canvas.Canvas(out, pagesize=A4, invariant=True, pageCompression=1)
    c.setTitle(f"Invoice {document['invoice_number']}")
    cur = document["currency"]
    margin = 16 * mm
    page = 1

    def money(value: Any) -> str:
        return format_money(value, cur)

    def footer() -> None:
        c.setFont("Sans", 7.5)
        c.setFillColorRGB(0.42, 0.46, 0.49)
        c.drawString(margin, 14 * mm, document["business"]["invoice_footer"])
        c.drawRightString(width - margin, 14 * mm, f"Page {page}")

    # header band
    c.setFillColorRGB(0.12, 0.22, 0.39)
    c.rect(0, height - 40 * mm, width, 40 * mm, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Sans-Bold", 15)
    c.drawString(margin, height - 16 * mm, document["business"]["name"])
    c.setFont("Sans", 8.5)
    y = height - 22 * mm
    for line in document["business"]["address_lines"]:
        c.drawString(margin, y, line)
        y -= 3.8 * mm
    c.setFont("Sans-Bold", 22)
    c.drawRightString(width - margin, height - 17 * mm, "INVOICE")
    c.setFont("Sans", 10)
    c.drawRightString(width - margin, height - 23 * mm, f"No. {document['invoice_number']}")

    # client and facts
    c.setFillColorRGB(0.13, 0.15, 0.16)
    y = height - 52 * mm
    c.setFont("Sans-Bold", 11)
    client = document["client"]
    c.drawString(margin, y, client["company_name"])
    c.setFont("Sans", 9.5)
    for line in [client["contact_person"], *client["address"].split("\n"), client["email"]]:
        y -= 4.4 * mm
        c.drawString(margin, y, line)
    facts = [
        ("Invoice number", document["invoice_number"]),
        ("Issue date", format_date(document["issue_date"])),
        ("Due date", format_date(document["due_date"])),
        ("Balance due", money(document["balance_due"])),
    ]
    fy = height - 52 * mm
    for label, value in facts:
        c.setFont("Sans", 8.5)
        c.drawString(width - margin - 74 * mm, fy, label)
        c.drawRightString(width - margin, fy, value)
        fy -= 5 * mm

    # items
    y = min(y, fy) - 12 * mm
    cols = [(margin, "Description"), (width - margin - 76 * mm, "Qty")]

    def table_header() -> float:
        c.setFillColorRGB(0.12, 0.22, 0.39)
        c.rect(margin, hy - 2 * mm, width - 2 * margin, 7.5 * mm, stroke=0, fill=1)
        c.setFillColorRGB(1, 1, 1)
        c.setFont("Sans-Bold", 8)
        c.drawString(cols[0][0] + 1.5 * mm, hy, "DESCRIPTION")
        c.drawRightString(cols[1][0], hy, "QTY")
        c.drawRightString(width - margin - 36 * mm, hy, "RATE")
        c.drawRightString(width - margin - 1.5 * mm, hy, "AMOUNT")
        c.setFillColorRGB(0.13, 0.15, 0.16)
        return float(hy - 9 * mm)

    hy = y
    y = table_header()
    desc_width = 90 * mm
    for item in document["items"]:
        lines = simpleSplit(item["description"], "Sans", 9.5, desc_width)
        row = len(lines) * 4.4 * mm + 3.2 * mm
        if y - row < 26 * mm:
            footer()
            c.showPage()
            page += 1
            hy = height - margin
            y = table_header()
        c.setFont("Sans", 9.5)
        ty = y
        for line in lines:
            c.drawString(margin + 1.5 * mm, ty, line)
            ty -= 4.4 * mm
        c.drawRightString(cols[1][0], y, str(item["quantity"]))
        c.drawRightString(width - margin - 36 * mm, y, money(item["rate"]))
        c.drawRightString(width - margin - 1.5 * mm, y, money(item["amount"]))
        y -= row

    # totals
    y -= 4 * mm
    for label, key in (
        ("Subtotal", "subtotal"),
        ("Discount", "discount"),
        (f"{document['business']['tax_label']} ({document['tax_rate']}%)", "tax_amount"),
        ("Total", "total_amount"),
        ("Amount paid", "amount_paid"),
        ("Balance due", "balance_due"),
    ):
        c.setFont("Sans-Bold" if key in ("total_amount", "balance_due") else "Sans", 9.5)
        c.drawString(width - margin - 90 * mm, y, label)
        c.drawRightString(width - margin - 1.5 * mm, y, money(document[key]))
        y -= 6.2 * mm

    # notes, terms, payment instructions
    y -= 4 * mm
    for title, key in (
        ("NOTES", "notes"),
        ("TERMS", "terms"),
        ("PAYMENT INSTRUCTIONS", "payment_instructions"),
    ):
        c.setFont("Sans-Bold", 8)
        c.drawString(margin, y, title)
        y -= 4.6 * mm
        c.setFont("Sans", 9)
        for paragraph in document[key].split("\n"):
            for line in simpleSplit(paragraph, "Sans", 9, width - 2 * margin):
                c.drawString(margin, y, line)
                y -= 4.2 * mm
        y -= 3 * mm
    footer()
    c.showPage()
    c.save()
    return out.getvalue()
