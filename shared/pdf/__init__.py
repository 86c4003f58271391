"""PDFs: ``render_document_pdf(document, kind, template)`` -> bytes, and
``render_invoice_pdf(document, template)`` for an invoice.

- `shared.pdf.invoice`: the layout of an invoice, a quote or a credit note (``kind``:
  ``invoice``, ``quote``, ``credit_note``; `shared.pdf.invoice.KINDS` says what each
  prints). ``document`` is what `shared.documents` loads (``load_invoice_document``,
  ``load_quote_document``); the templates (``professional``, ``modern``, ``minimal``)
  share one layout engine and differ in colours, header and table style. Drawn on
  reportlab's canvas; bench/RESULTS.md, "Issue 5: invoice PDFs", says why.
- `shared.pdf.text`: the font and text-shaping toolkit every PDF draws its text with (the
  invoice, and the report export's PDF of `shared.exports.writers`): the fonts bundled
  under ``shared/pdf/fonts/`` (CJK and Korean per character from fallback fonts), Arabic
  reshaped and right-to-left text ordered.

Only the functions that make documents import this package
(tests/api/test_import_cost.py, ``MAKES_DOCUMENTS``).
"""

from __future__ import annotations

from shared.pdf.invoice import KINDS, TEMPLATES, render_document_pdf, render_invoice_pdf

__all__ = ["KINDS", "TEMPLATES", "render_document_pdf", "render_invoice_pdf"]
