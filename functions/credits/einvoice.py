"""GET /api/credit-notes/{id}/einvoice?format=...: the credit note as an e-invoice (type
381, referring to the invoice it credits: BT-25), in the formats and with the validation of
GET /api/invoices/{id}/einvoice (functions/invoices/einvoice.py). A function of its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from functions.credits import PathId, error_responses
from functions.invoices.einvoice import RESPONSES, Format, answer, chosen_format
from shared.api import make_handler
from shared.context import Viewer
from shared.documents import load_credit_note_document
from shared.einvoice import service
from shared.errors import not_found
from shared.pdf import render_document_pdf

router = APIRouter(tags=["credit notes"])


def render_credit_note(document: dict[str, object]) -> bytes:
    return render_document_pdf(dict(document), "credit_note")


@router.get(
    "/api/credit-notes/{id}/einvoice",
    summary="The credit note as an e-invoice (Factur-X, XRechnung, Peppol BIS, UBL, CII)",
    response_class=Response,
    responses={**RESPONSES, **error_responses(400, 401, 403, 404, 422)},
)
async def get_credit_note_einvoice(
    ctx: Viewer,
    credit_note_id: PathId,
    fmt: Annotated[
        Format | None,
        Query(
            alias="format",
            description="The format; default: the client's, else the organization's",
        ),
    ] = None,
) -> Response:
    document = load_credit_note_document(ctx.db, ctx.organization_id, credit_note_id)
    if document is None:
        raise not_found("credit note")
    try:
        made = service.make(
            document,
            chosen_format(document, fmt),
            credit_note=True,
            render_pdf=render_credit_note,
        )
    except service.Invalid as invalid:
        raise service.invalid_error(invalid) from None
    return answer(made)


handler = make_handler(router)
