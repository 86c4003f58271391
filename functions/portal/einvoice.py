"""GET /p/{token}/einvoice: the client page's invoice as the e-invoice the client (else the
organization) chose (no login): XML for XRechnung, Peppol, UBL or CII, the Factur-X PDF for
facturx; validated first like GET /api/invoices/{id}/einvoice (a refusal is 422
einvoice_invalid). A link to a quote, or to an invoice without a chosen format, is 404. The
download is recorded on the client's timeline as the PDF's is. A function of its own (fonts,
Saxon, memory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from functions.portal import Token, error_responses, html_too
from functions.portal.page import error_page
from shared import portal
from shared.api import make_handler
from shared.einvoice import service
from shared.errors import ApiError
from shared.pdf import render_document_pdf
from shared.settings import Settings, get_settings

router = APIRouter(tags=["client page"])


async def _settings() -> Settings:
    return get_settings()


def _invoice_pdf(document: dict[str, object]) -> bytes:
    return render_document_pdf(dict(document), "invoice")


@router.get(
    "/p/{token}/einvoice",
    summary="The client page's invoice as an e-invoice (no login)",
    response_class=Response,
    responses={
        200: {
            "description": "The e-invoice in the chosen format (XML, or the Factur-X PDF)",
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **html_too(error_responses(404, 422, 429)),
    },
)
async def client_page_einvoice(
    request: Request, token: Token, settings: Annotated[Settings, Depends(_settings)]
) -> Response:
    try:
        answer = portal.open_link(
            settings, token, portal.client_address(request), "client_link_einvoice"
        )
        document = portal.shaped(answer)
        fmt = service.chosen_format(document)
        if answer["document_type"] != "invoice" or fmt is None:
            raise portal.not_found()
        try:
            made = service.make(document, fmt, render_pdf=_invoice_pdf)
        except service.Invalid as invalid:
            raise service.invalid_error(invalid) from None
    except ApiError as error:
        return error_page(error, request)
    return Response(
        content=made.body,
        media_type=made.media_type,
        headers={
            **portal.headers(),
            "Content-Disposition": f'attachment; filename="{made.filename}"',
        },
    )


handler = make_handler(router)
