"""GET /api/credit-notes/{id}/pdf: the credit note as a PDF (the invoice templates, titled
as a credit note, naming the invoice it credits). A function of its own: fonts, memory."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from functions.credits import PathId, error_responses
from shared.api import make_handler
from shared.context import Viewer
from shared.documents import content_disposition, load_credit_note_document
from shared.errors import not_found
from shared.pdf import render_document_pdf

router = APIRouter(tags=["credit notes"])

Template = Literal["professional", "modern", "minimal"]


@router.get(
    "/api/credit-notes/{id}/pdf",
    summary="The credit note as a PDF",
    response_class=Response,
    responses={
        200: {
            "description": 'The PDF (Content-Disposition: inline; filename="<number>.pdf")',
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def get_credit_note_pdf(
    ctx: Viewer,
    credit_note_id: PathId,
    template: Annotated[
        Template | None,
        Query(description="A template other than the credited invoice's"),
    ] = None,
) -> Response:
    document = load_credit_note_document(ctx.db, ctx.organization_id, credit_note_id)
    if document is None:
        raise not_found("credit note")
    body = render_document_pdf(document, "credit_note", template)
    return Response(
        content=body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(str(document["credit_note_number"])),
            "Cache-Control": "private, no-store",
        },
    )


handler = make_handler(router)
