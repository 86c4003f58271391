"""GET /api/invoices/{id}/pdf: the invoice as a PDF, in its template or another one.

One round trip reads the invoice with its items, payments, client and business
(`shared.documents`); `shared.pdf` renders it. Any member, viewers included, may
read it; drafts too (they carry a "DRAFT" watermark). The body is binary: Mangum
returns it base64-encoded, and API Gateway serves the bytes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from functions.invoices import InvoiceId, error_responses
from shared.api import make_handler
from shared.context import Viewer
from shared.documents import load_invoice_document
from shared.errors import not_found
from shared.pdf import render_invoice_pdf

router = APIRouter(tags=["invoices"])

Template = Literal["professional", "modern", "minimal"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(number: str) -> str:
    """``inline; filename="<number>.pdf"``: an ASCII name for every browser, and the
    exact name (RFC 6266 ``filename*``) when the number has other characters."""
    ascii_name = _UNSAFE.sub("-", number).strip("-") or "invoice"
    value = f'inline; filename="{ascii_name}.pdf"'
    if ascii_name != number:
        value += f"; filename*=UTF-8''{quote(number + '.pdf', safe='')}"
    return value


@router.get(
    "/api/invoices/{id}/pdf",
    summary="The invoice as a PDF",
    response_class=Response,
    responses={
        200: {
            "description": 'The PDF (Content-Disposition: inline; filename="<number>.pdf")',
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def get_invoice_pdf(
    ctx: Viewer,
    invoice_id: InvoiceId,
    template: Annotated[
        Template | None,
        Query(description="A template other than the invoice's own"),
    ] = None,
) -> Response:
    document = load_invoice_document(ctx.db, ctx.organization_id, invoice_id)
    if document is None:
        raise not_found("invoice")
    body = render_invoice_pdf(document, template)
    return Response(
        content=body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(str(document["invoice_number"])),
            "Cache-Control": "private, no-store",
        },
    )


handler = make_handler(router)
