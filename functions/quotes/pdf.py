"""GET /api/quotes/{id}/pdf: the quote as a PDF (the invoice templates, titled as a quote,
with its validity date)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from functions.quotes import QuoteId, error_responses
from shared.api import make_handler
from shared.context import Viewer
from shared.documents import content_disposition, load_quote_document
from shared.errors import not_found
from shared.pdf import render_document_pdf

router = APIRouter(tags=["quotes"])

Template = Literal["professional", "modern", "minimal"]


@router.get(
    "/api/quotes/{id}/pdf",
    summary="The quote as a PDF",
    response_class=Response,
    responses={
        200: {
            "description": 'The PDF (Content-Disposition: inline; filename="<number>.pdf")',
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def get_quote_pdf(
    ctx: Viewer,
    quote_id: QuoteId,
    template: Annotated[
        Template | None,
        Query(description="A template other than the quote's own"),
    ] = None,
) -> Response:
    document = load_quote_document(ctx.db, ctx.organization_id, quote_id)
    if document is None:
        raise not_found("quote")
    body = render_document_pdf(document, "quote", template)
    return Response(
        content=body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(str(document["quote_number"])),
            "Cache-Control": "private, no-store",
        },
    )


handler = make_handler(router)
