"""Invoice PDFs: ``render_invoice_pdf(document, template)`` -> bytes.

``document`` is what `shared.documents.load_invoice_document` returns. The
templates (``professional``, ``modern``, ``minimal``) share one layout engine and
differ in colours, header and table style. Drawn on reportlab's canvas with the
fonts bundled under ``shared/pdf/fonts/`` (CJK and Korean per character from
fallback fonts; Arabic reshaped with arabic_reshaper, right-to-left text ordered
with python-bidi); bench/RESULTS.md, "Issue 5: invoice PDFs", says why.

The report export's PDF (`shared.exports.writers`) uses the same fonts and text
handling: ``Fonts.of(texts)`` picks the faces a document's texts need,
``Fonts.line(text)`` shapes one line (Arabic joined, right-to-left in display
order), ``Fonts.runs(line, bold)`` splits it by the font that has each
character, ``Fonts.width`` measures it (mm); ``PT`` is points per millimetre.

Only the functions that make documents import this package
(tests/api/test_import_cost.py, ``MAKES_DOCUMENTS``).
"""

from __future__ import annotations

from shared.pdf.invoice import PT, TEMPLATES, Face, Fonts, render_invoice_pdf

__all__ = ["PT", "TEMPLATES", "Face", "Fonts", "render_invoice_pdf"]
