"""shared.pdf without a database: templates, determinism, odd input."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from bench.pdf_sample import sample_document
from shared.pdf import TEMPLATES, render_invoice_pdf

ROOT = Path(__file__).parents[3]


def text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_unknown_template_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown template"):
        render_invoice_pdf(sample_document(), "fancy")


def test_unknown_stored_template_falls_back_to_professional() -> None:
    document = sample_document(template="retro")
    assert render_invoice_pdf(document) == render_invoice_pdf(document, "professional")


def test_three_templates_three_documents() -> None:
    bodies = {render_invoice_pdf(sample_document(), name) for name in TEMPLATES}
    assert len(bodies) == 3


def test_float_money_is_refused() -> None:
    document = sample_document()
    document["total_amount"] = 12.5
    with pytest.raises(TypeError, match="never a float"):
        render_invoice_pdf(document)


def test_same_bytes_in_a_fresh_process() -> None:
    """The fonts parsed once per process must not change the output."""
    here = render_invoice_pdf(sample_document())
    script = (
        "import sys; from bench.pdf_sample import sample_document; "
        "from shared.pdf import render_invoice_pdf; "
        "sys.stdout.buffer.write(render_invoice_pdf(sample_document()))"
    )
    there = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, cwd=ROOT
    ).stdout
    assert here == there


def test_control_characters_and_empty_parts() -> None:
    document = sample_document()
    document["notes"] = "Line one\r\nLine\ttwo\x00\x07"
    document["client"] = {"company_name": "Bare Client"}
    document["business"] = {}
    document["items"][0]["description"] = ""
    body = render_invoice_pdf(document)
    extracted = text(body)
    assert "Line one" in extracted
    assert "Line    two" in extracted
    assert "Bare Client" in extracted


def test_missing_amounts_print_as_zero() -> None:
    document = sample_document(items=0)
    for key in ("subtotal", "total_amount", "balance_due", "amount_paid", "discount"):
        document[key] = Decimal(0)
    assert "$0.00" in text(render_invoice_pdf(document))


def test_long_description_wraps_and_long_footer_is_cut() -> None:
    document = sample_document(items=1)
    document["items"][0]["description"] = "word " * 400
    document["business"]["invoice_footer"] = "footer " * 400
    body = render_invoice_pdf(document)
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) >= 1
    assert "…" in text(body)


@pytest.mark.parametrize(
    ("client_name", "contact"),
    [
        ("주식회사 한빛", "김민준"),  # Korean: the Hangul fallback font
        ("株式会社テスト", "東京"),  # Japanese: the CJK fallback font
        ("主식회사 株式", "محمد عبد الله"),  # both fallbacks, and shaping
    ],
)
def test_text_after_a_fallback_line_is_not_garbled(client_name: str, contact: str) -> None:
    """Lines wholly in a fallback font, then lines in the main font: each keeps its
    own glyphs (fpdf2 would draw the next line with the fallback's glyph ids)."""
    document = sample_document(client_name=client_name, contact=contact)
    document["items"][1]["description"] = "東京 出張費"
    extracted = text(render_invoice_pdf(document))
    for expected in (
        client_name,
        contact,
        "Friedrichstraße 123",
        "accounts@mueller.example",
        "東京 出張費",
        "$253.00",
        "$1,258.88",
    ):
        assert expected in extracted, expected


def test_right_to_left_text_is_joined_and_extracts_as_typed() -> None:
    """Arabic drawn in its joining forms (lam-alef ligatures included) and Hebrew in
    display order; the text read back is what was typed, in reading order."""
    document = sample_document(client_name="مكتبة الإسكندرية", contact="سلام عليكم")
    document["client"]["address"] = "רחוב הרצל 12, תל אביב"
    body = render_invoice_pdf(document)
    extracted = text(body)
    for expected in ("مكتبة الإسكندرية", "سلام عليكم", "רחוב הרצל", "תל אביב", "$1,258.88"):
        assert expected in extracted, expected
    # The content stream holds the presentation forms, not the bare letters: the
    # letters were shaped (a PDF of unjoined letters would extract the same text).
    resources: Any = PdfReader(io.BytesIO(body)).pages[0]["/Resources"].get_object()
    cmaps = b"".join(
        font.get_object()["/ToUnicode"].get_object().get_data()
        for font in resources["/Font"].values()
    )
    assert b"<06440627>" in cmaps or b"<06440625>" in cmaps  # a lam-alef ligature glyph


def test_font_load_order_does_not_change_output() -> None:
    """Fonts are registered once per process, in whatever order documents need them;
    the two DejaVu subsets share a family name, and neither may stand in for the
    other: the bytes of each document are the same as in a fresh process."""
    plain = sample_document()
    world = sample_document(contact="Привет")
    script = (
        "import sys; from bench.pdf_sample import sample_document as s; "
        "from shared.pdf import render_invoice_pdf as r; "
        "r(s()); sys.stdout.buffer.write(r(s(contact='Привет')))"
    )
    there = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, cwd=ROOT
    ).stdout
    assert "Привет" in text(there)
    render_invoice_pdf(world)
    assert render_invoice_pdf(world) == there
    assert "Müller & Söhne GmbH" in text(render_invoice_pdf(plain))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler's pdftoppm")
@pytest.mark.parametrize("template", TEMPLATES)
def test_logo_is_visible(template: str, tmp_path: Path) -> None:
    """The logo is drawn over the professional template's band, not under it."""
    logo = Image.new("RGB", (40, 40), (255, 0, 0))
    raw = io.BytesIO()
    logo.save(raw, "PNG")
    document = sample_document(template=template)
    document["business"]["company_logo_url"] = (
        "data:image/png;base64," + base64.b64encode(raw.getvalue()).decode()
    )
    (tmp_path / "logo.pdf").write_bytes(render_invoice_pdf(document))
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", "-singlefile", "logo.pdf", "page"],
        check=True,
        cwd=tmp_path,
    )
    with Image.open(tmp_path / "page.png") as page:
        top = page.convert("RGB").crop((0, 0, page.width, page.height // 6))
        pixels = top.tobytes()
    red = sum(
        1
        for i in range(0, len(pixels), 3)
        if pixels[i] > 200 and pixels[i + 1] < 60 and pixels[i + 2] < 60
    )
    assert red > 10, red
