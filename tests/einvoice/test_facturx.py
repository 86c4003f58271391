"""The Factur-X PDF: our renderer's PDF with the CII embedded, as PDF/A-3 (what is checked
here is what docs/einvoicing.md says is verified; a full PDF/A validator is not available)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from facturx import get_xml_from_pdf
from pypdf import PdfReader

from shared.einvoice import cii, facturx, from_document, model, validate
from shared.pdf import render_invoice_pdf
from tests.einvoice.documents import tax_document


@pytest.fixture(scope="module")
def made() -> tuple[model.Invoice, bytes, bytes]:
    document = tax_document(
        [("Beratung 日本語 العربية", "2", "150.00", "S", "19"), ("Buch", "1", "20.00", "S", "7")],
        discount="5.00",
    )
    invoice = from_document.from_document(document)
    pdf = render_invoice_pdf(document)
    return invoice, pdf, facturx.to_facturx(invoice, pdf, lang="de-DE")


def test_the_embedded_xml_is_the_written_one_and_valid(made: Any) -> None:
    invoice, _, hybrid = made
    name, xml = get_xml_from_pdf(hybrid, check_xsd=True)
    assert name == "factur-x.xml"
    assert xml == cii.to_cii(invoice, "facturx")
    assert validate.fatal(validate.validate(xml, "facturx")) == []


def test_the_pdf_says_pdf_a_3b_with_an_srgb_output_intent(made: Any) -> None:
    _, _, hybrid = made
    reader = PdfReader(io.BytesIO(hybrid))
    root: Any = reader.trailer["/Root"]
    [intent] = [item.get_object() for item in root["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3
    assert profile.get_data()[36:40] == b"acsp"  # an ICC profile
    xmp = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert b"fx:ConformanceLevel>EN 16931<" in xmp
    [spec] = [item.get_object() for item in root["/AF"]]
    assert spec["/AFRelationship"] == "/Data"
    assert "/Encrypt" not in reader.trailer


def test_every_font_is_embedded(made: Any) -> None:
    _, _, hybrid = made
    reader = PdfReader(io.BytesIO(hybrid))
    fonts = 0
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for reference in resources["/Font"].values():
            font = reference.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (
                descendants[0].get_object()["/FontDescriptor"]
                if descendants
                else font["/FontDescriptor"]
            ).get_object()
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font["/BaseFont"]
            fonts += 1
    assert fonts


def test_the_pages_and_text_are_our_renderers(made: Any) -> None:
    _, pdf, hybrid = made
    ours = PdfReader(io.BytesIO(pdf))
    theirs = PdfReader(io.BytesIO(hybrid))
    assert len(ours.pages) == len(theirs.pages)
    assert ours.pages[0].extract_text() == theirs.pages[0].extract_text()
