"""Factur-X / ZUGFeRD (EN 16931 profile): our own PDF with the CII XML embedded, as PDF/A-3.

``to_facturx(invoice, pdf)`` takes the PDF our renderer made for the document
(``shared.pdf.render_document_pdf``: every font embedded as TrueType subsets, no standard
fonts) and returns the hybrid: an sRGB output intent added (the ICC profile made by Pillow's
littleCMS, ``ImageCms.createProfile("sRGB")``, nothing downloaded), then the ``factur-x``
library embeds ``factur-x.xml`` (AFRelationship ``Data``, in the catalog's /AF) and writes
the XMP metadata (pdfaid part 3, conformance B, and the Factur-X extension schema).

What is verified (tests/einvoice/test_facturx.py): the XML read back out of the PDF is the
XML written and validates against the Factur-X EN 16931 XSD and Schematron; the catalog
has the output intent with the ICC profile, the XMP says PDF/A-3B, every font is embedded.
What is not: a full PDF/A-3 conformance check (veraPDF is no registry package here).
"""

from __future__ import annotations

import functools
import io

from facturx.facturx import _facturx_update_metadata_add_attachment
from PIL import ImageCms
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

from shared.einvoice import cii, model

OUTPUT_CONDITION = "sRGB IEC61966-2.1"


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile (littleCMS's built-in, through Pillow)."""
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def add_output_intent(writer: PdfWriter) -> None:
    """A PDF/A sRGB output intent in the catalog of ``writer``'s document."""
    profile = StreamObject()
    profile.set_data(srgb_profile())
    profile[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): TextStringObject(OUTPUT_CONDITION),
            NameObject("/Info"): TextStringObject(OUTPUT_CONDITION),
            NameObject("/DestOutputProfile"): writer._add_object(profile),
        }
    )
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])


def embed(pdf: bytes, xml: bytes, invoice: model.Invoice, lang: str | None = None) -> bytes:
    """The Factur-X PDF/A-3 of ``pdf`` with ``xml`` (a Factur-X EN 16931 CII) embedded.

    One pypdf pass: what ``facturx.generate_from_binary`` does (clone the PDF, header 1.6,
    then its ``_facturx_update_metadata_add_attachment``: the attachment, /AF, the XMP and
    the document information), with the output intent added on the same writer; the
    public function would need a second pass for it (twice the time; bench/einvoice.py).
    The XML was validated before (shared.einvoice.validate), so no XSD check here."""
    kind = "Credit note" if invoice.is_credit_note else "Invoice"
    metadata = {
        "author": invoice.seller.name,
        "keywords": "Factur-X, ZUGFeRD, EN 16931",
        "title": f"{invoice.seller.name}: {kind} {invoice.number}",
        "subject": (
            f"Factur-X {kind.lower()} {invoice.number} dated {invoice.issue_date.isoformat()} "
            f"issued by {invoice.seller.name}"
        ),
    }
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer._header = b"%PDF-1.6"
    add_output_intent(writer)
    _facturx_update_metadata_add_attachment(
        writer, xml, metadata, "factur-x", "en16931", lang=lang, afrelationship="data"
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def to_facturx(invoice: model.Invoice, pdf: bytes, lang: str | None = None) -> bytes:
    """``invoice``'s Factur-X: its CII in the ``facturx`` profile embedded in ``pdf``."""
    return embed(pdf, cii.to_cii(invoice, "facturx"), invoice, lang)
