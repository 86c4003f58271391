"""GET /api/invoices/{id}/einvoice?format=...: the invoice as an e-invoice to EN 16931.

Formats (docs/einvoicing.md): ``facturx`` (Factur-X / ZUGFeRD EN 16931: our PDF with the
CII embedded, PDF/A-3), ``xrechnung-ubl``, ``xrechnung-cii`` (XRechnung 3.0), ``peppol``
(Peppol BIS Billing 3.0), ``ubl``, ``cii`` (EN 16931 core). Without ``format``, the client's
chosen format, else the organization's. The document is validated (XSD and the official
Schematron rules, shared/einvoice/validate.py) before it is answered: a refused one is 422
``einvoice_invalid`` with each broken rule and the field to fill. Any member, viewers
included, may read it. A function of its own: fonts, Saxon, memory (serverless.yml).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from functions.invoices import InvoiceId, error_responses
from shared.api import make_handler
from shared.context import Viewer
from shared.documents import load_invoice_document
from shared.einvoice import service
from shared.errors import not_found, validation
from shared.pdf import render_invoice_pdf

router = APIRouter(tags=["invoices"])

Format = Literal["facturx", "xrechnung-ubl", "xrechnung-cii", "peppol", "ubl", "cii"]

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The e-invoice: XML (UBL 2.1 or CII D16B) or, for facturx, the PDF/A-3 with the "
            "XML embedded (Content-Disposition: attachment; filename=...)"
        ),
        "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


def chosen_format(document: dict[str, Any], given: str | None) -> str:
    """The format asked for, else the client's, else the organization's."""
    fmt = given or service.chosen_format(document)
    if not fmt:
        raise validation(
            "format",
            "give a format: none is chosen for the client or the organization",
        )
    return fmt


def answer(made: service.EInvoice) -> Response:
    return Response(
        content=made.body,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/api/invoices/{id}/einvoice",
    summary="The invoice as an e-invoice (Factur-X, XRechnung, Peppol BIS, UBL, CII)",
    response_class=Response,
    responses={**RESPONSES, **error_responses(400, 401, 403, 404, 422)},
)
async def get_invoice_einvoice(
    ctx: Viewer,
    invoice_id: InvoiceId,
    fmt: Annotated[
        Format | None,
        Query(
            alias="format",
            description="The format; default: the client's, else the organization's",
        ),
    ] = None,
) -> Response:
    document = load_invoice_document(ctx.db, ctx.organization_id, invoice_id)
    if document is None:
        raise not_found("invoice")
    try:
        made = service.make(document, chosen_format(document, fmt), render_pdf=render_invoice_pdf)
    except service.Invalid as invalid:
        raise service.invalid_error(invalid) from None
    return answer(made)


handler = make_handler(router)
